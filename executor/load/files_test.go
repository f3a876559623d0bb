package load

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmraft/dmraft/executor/dump"
)

func TestReadStatements(t *testing.T) {
	in := "/*!40101 SET NAMES binary*/;\n-- comment\n\nINSERT INTO `t` VALUES\n(1,'a;\\nb'),\n(2,'c');\nINSERT INTO `t` VALUES (3,'x');\n"
	var got []string
	if err := ReadStatements(strings.NewReader(in), func(s []byte) error { got = append(got, string(s)); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"/*!40101 SET NAMES binary*/;", "INSERT INTO `t` VALUES\n(1,'a;\\nb'),\n(2,'c');", "INSERT INTO `t` VALUES (3,'x');"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	err := ReadStatements(strings.NewReader("INSERT INTO `t` VALUES (1),\n(2"), func([]byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a truncated file: %v", err)
	}
}

func TestRewriteInsert(t *testing.T) {
	for _, c := range []struct {
		in   string
		rows int64
	}{
		{"INSERT INTO `t` (`a`,`b`) VALUES (1,'x''y'),(2,'(\\')'),(3,_utf8mb4'z')", 3},
		{"insert into `db`.`t` values\n(1,\"a)b\"),\n(2,NULL)", 2},
		{"REPLACE INTO t VALUES (1)", 1},
	} {
		out, rows, err := RewriteInsert([]byte(c.in), "INSERT IGNORE", "`x`.`y`")
		if err != nil || rows != c.rows || !strings.HasPrefix(string(out), "INSERT IGNORE INTO `x`.`y` ") {
			t.Errorf("RewriteInsert(%q) = %q, %d, %v; want %d rows", c.in, out, rows, err, c.rows)
		}
	}
	if _, _, err := RewriteInsert([]byte("DELETE FROM t"), "INSERT", "`t`"); err == nil {
		t.Error("a DELETE was rewritten")
	}
}

// TestOpenDumpDir: a directory is listed by file name; a manifest whose
// file is missing or has changed size fails before anything loads.
func TestOpenDumpDir(t *testing.T) {
	final := filepath.Join(t.TempDir(), "d")
	w, err := dump.NewDirWriter(final)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, stmt string }{
		{dump.SchemaCreateFile("db"), "CREATE DATABASE `db`"},
		{dump.TableSchemaFile("db", "t.1"), "CREATE TABLE `t.1` (a int)"},
		{dump.ChunkFile("db", "t.1", 0), "INSERT INTO `t.1` VALUES (1)"},
		{dump.ChunkFile("db", "t.1", 1), "INSERT INTO `t.1` VALUES (2)"},
		{dump.ViewSchemaFile("db", "v"), "CREATE VIEW `v` AS select 1"},
	} {
		if err := w.WriteStatement(f.name, f.stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(dump.Manifest{Position: dump.Position{Name: "bin.2", Pos: 99, GTID: "0-1-5"}}); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDumpDir(final)
	if err != nil {
		t.Fatal(err)
	}
	if d.Position.Pos != 99 || len(d.Tables) != 1 || d.Tables[0].ID() != "db.t.1" || len(d.Tables[0].Chunks) != 2 || len(d.Views) != 1 || d.Schemas["db"] == "" {
		t.Fatalf("OpenDumpDir: %+v %+v", d, d.Tables[0])
	}
	ddl, err := ReadCreateStatement(filepath.Join(final, d.Tables[0].SchemaFile))
	if err != nil || ddl != "CREATE TABLE `t.1` (a int)" {
		t.Errorf("ReadCreateStatement: %q %v", ddl, err)
	}
	if err := os.WriteFile(filepath.Join(final, dump.ChunkFile("db", "t.1", 1)), []byte("INSERT"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDumpDir(final); !errors.Is(err, ErrDumpDirDamaged) {
		t.Errorf("a changed file: %v", err)
	}
	if _, err := OpenDumpDir(filepath.Join(final, "nope")); !errors.Is(err, ErrDumpDirMissing) {
		t.Errorf("a missing directory: %v", err)
	}
}
