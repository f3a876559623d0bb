package shardlock

import (
	"errors"
	"testing"
)

func TestParseCreateTable(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10) NOT NULL DEFAULT 'x', b DECIMAL(10,2), c INT(11) UNSIGNED)",
			"id int NOT NULL, a varchar(10) NOT NULL DEFAULT 'x', b decimal(10,2), c int unsigned | PRIMARY(id)"},
		{"create table t (id bigint, v text, d datetime(3) default null, e enum('a','b'), primary key (id), unique key (v), key k2 (d, e))",
			"id bigint NOT NULL, v text, d datetime(3), e enum('a','b') | PRIMARY(id), UNIQUE v(v), k2(d,e)"},
		{"CREATE TABLE t (a CHAR, b VARBINARY(8), c BLOB, d TINYINT(1) DEFAULT 0, e INT UNIQUE)",
			"a char(1), b varbinary(8), c blob, d tinyint DEFAULT 0, e int | UNIQUE e(e)"},
	} {
		s, err := ParseCreateTable(tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if got := s.String(); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.sql, got, tc.want)
		}
		back, err := DecodeSchema(EncodeSchema(s))
		if err != nil || !back.equal(s) {
			t.Errorf("%s: JSON round trip: %v %v", tc.sql, back, err)
		}
	}
	if _, err := ParseCreateTable("ALTER TABLE t ADD c INT"); !errors.Is(err, ErrUnsupportedDDL) {
		t.Errorf("not a CREATE TABLE: %v", err)
	}
}

func TestApplyDDL(t *testing.T) {
	base := "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))"
	for _, tc := range []struct {
		ddl, want string
		err       error
	}{
		{"ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 1", "id int NOT NULL, a int, b varchar(10), c int NOT NULL DEFAULT 1 | PRIMARY(id)", nil},
		{"ALTER TABLE t ADD COLUMN (c INT, d INT), ADD INDEX (c)", "id int NOT NULL, a int, b varchar(10), c int, d int | PRIMARY(id), c(c)", nil},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS a BIGINT", "id int NOT NULL, a int, b varchar(10) | PRIMARY(id)", nil},
		{"ALTER TABLE t DROP COLUMN a", "id int NOT NULL, b varchar(10) | PRIMARY(id)", nil},
		{"ALTER TABLE t MODIFY b VARCHAR(20) NOT NULL", "id int NOT NULL, a int, b varchar(20) NOT NULL | PRIMARY(id)", nil},
		{"ALTER TABLE t CHANGE b b TEXT", "id int NOT NULL, a int, b text | PRIMARY(id)", nil},
		{"ALTER TABLE t ALTER COLUMN a SET DEFAULT 5", "id int NOT NULL, a int DEFAULT 5, b varchar(10) | PRIMARY(id)", nil},
		{"ALTER TABLE t ADD UNIQUE INDEX ua (a, b)", "id int NOT NULL, a int, b varchar(10) | PRIMARY(id), UNIQUE ua(a,b)", nil},
		{"CREATE INDEX ib ON t (b)", "id int NOT NULL, a int, b varchar(10) | PRIMARY(id), ib(b)", nil},
		{"ALTER TABLE t DROP PRIMARY KEY", "id int NOT NULL, a int, b varchar(10)", nil},
		{"ALTER TABLE t ENGINE = InnoDB COMMENT 'x'", "id int NOT NULL, a int, b varchar(10) | PRIMARY(id)", nil},
		{"ALTER TABLE t DROP COLUMN id", "a int, b varchar(10)", nil},
		{"ALTER TABLE t RENAME COLUMN a TO z", "", ErrUnsupportedDDL},
		{"ALTER TABLE t CHANGE a z INT", "", ErrUnsupportedDDL},
		{"ALTER TABLE t RENAME TO u", "", ErrUnsupportedDDL},
		{"ALTER TABLE t RENAME INDEX a TO b", "", ErrUnsupportedDDL},
		{"TRUNCATE TABLE t", "", ErrUnsupportedDDL},
		{"ALTER TABLE t ADD COLUMN a INT", "", ErrBadDDL},
		{"ALTER TABLE t DROP COLUMN z", "", ErrBadDDL},
		{"ALTER TABLE t DROP INDEX nope", "", ErrBadDDL},
		{"ALTER TABLE t ADD INDEX (z)", "", ErrBadDDL},
		{"ALTER TABLE t ADD COLUMN", "", ErrParse},
	} {
		s, err := ParseCreateTable(base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ApplyDDL(tc.ddl)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.ddl, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.ddl, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.ddl, got, tc.want)
		}
		if again, _ := ParseCreateTable(base); !s.equal(again) {
			t.Errorf("%s changed the schema it was applied to", tc.ddl)
		}
	}
}

func TestWidens(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"int", "bigint", true},
		{"bigint", "int", false},
		{"int unsigned", "bigint", true},
		{"int unsigned", "int", false},
		{"int", "int unsigned", false},
		{"varchar(10)", "varchar(20)", true},
		{"varchar(20)", "varchar(10)", false},
		{"char(10)", "varchar(10)", true},
		{"varchar(10)", "char(10)", false},
		{"varchar(100)", "text", true},
		{"text", "mediumtext", true},
		{"mediumtext", "text", false},
		{"decimal(10,2)", "decimal(12,2)", true},
		{"decimal(10,2)", "decimal(10,3)", false},
		{"decimal(10,2)", "decimal(11,3)", true},
		{"float", "double", true},
		{"enum('a','b')", "enum('a','b','c')", true},
		{"enum('a','b')", "enum('b','a')", false},
		{"datetime", "datetime(3)", true},
		{"int", "varchar(10)", false},
		{"varbinary(8)", "blob", true},
	} {
		if got := widens(tc.from, tc.to); got != tc.want {
			t.Errorf("widens(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestNormalizeDDL(t *testing.T) {
	if !sameDDLs([]string{"alter table db.t add column c int"}, []string{"ALTER  TABLE `db`.`t` ADD COLUMN `c` INT"}) {
		t.Error("spelling differences count")
	}
	if sameDDLs([]string{"ALTER TABLE db.t ADD COLUMN c INT"}, []string{"ALTER TABLE db.t ADD COLUMN c BIGINT"}) {
		t.Error("different types compare equal")
	}
}
