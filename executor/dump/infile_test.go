package dump

import (
	"database/sql"
	"strings"
	"testing"
)

func TestAppendTSVRow(t *testing.T) {
	row := []sql.RawBytes{
		sql.RawBytes("plain"),
		nil,
		sql.RawBytes(`\N`),
		sql.RawBytes("a\tb\nc\rd\x00e\\"),
		sql.RawBytes(""),
	}
	got := string(appendTSVRow(nil, row))
	want := "plain\t\\N\t\\\\N\ta\\tb\\nc\\rd\\0e\\\\\t\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLoadDataSQL(t *testing.T) {
	cols := []Column{{Name: "id", DataType: "int"}, {Name: "b", DataType: "bit"}, {Name: "y", DataType: "year"}, {Name: "s", DataType: "varchar", Charset: "utf8mb4"}}
	got := loadDataSQL("`db`.`t`", cols, "REPLACE")
	for _, part := range []string{
		"LOAD DATA LOCAL INFILE '" + InfilePlaceholder + "' REPLACE INTO TABLE `db`.`t` CHARACTER SET binary",
		"(`id`,@dmraft_1,@dmraft_2,`s`)",
		"SET `b` = CAST(CONV(HEX(@dmraft_1), 16, 10) AS UNSIGNED), `y` = CAST(@dmraft_2 AS UNSIGNED)",
	} {
		if !strings.Contains(got, part) {
			t.Errorf("missing %q in\n%s", part, got)
		}
	}
	if s := loadDataSQL("`t`", cols[:1], "INSERT IGNORE"); !strings.Contains(s, "' IGNORE INTO TABLE") {
		t.Errorf("INSERT IGNORE: %s", s)
	}
	if s := loadDataSQL("`t`", cols[:1], "INSERT"); !strings.Contains(s, "' INTO TABLE") || !strings.HasSuffix(s, "(`id`)") {
		t.Errorf("INSERT: %s", s)
	}
	if Infileable(&Table{Columns: []Column{{Name: "g", DataType: "geometry"}}}) {
		t.Errorf("a spatial column is loaded with LOAD DATA")
	}
}
