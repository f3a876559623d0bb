package full

import (
	"fmt"
	"strings"
)

// TypesTable creates db.types: every MySQL/MariaDB column type, with
// generated columns, and rows of edge values (NULL everywhere, zero dates,
// emoji, latin1 high bytes, arbitrary binary bytes, full-precision
// DECIMAL, FLOAT/DOUBLE extremes). Run it with sql_mode ” (zero dates).
func TypesTable(db string) []string {
	t := "`" + db + "`.`types`"
	stmts := []string{
		"SET SESSION sql_mode = ''",
		"SET SESSION time_zone = '+00:00'",
		"CREATE TABLE " + t + ` (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec_full DECIMAL(65,30), dec_small DECIMAL(5,2) UNSIGNED, f FLOAT, d DOUBLE, fp FLOAT(7,3),
  c CHAR(10) CHARACTER SET utf8mb4, vc VARCHAR(200) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  l1 VARCHAR(50) CHARACTER SET latin1, l1t TEXT CHARACTER SET latin1, asc_c CHAR(5) CHARACTER SET ascii,
  bin BINARY(8), vbin VARBINARY(64), bl BLOB, mbl MEDIUMBLOB, tbl TINYBLOB, lbl LONGBLOB,
  dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL,
  tm TIME, tm6 TIME(6), yr YEAR,
  js JSON, en ENUM('a','b','c d','é'), st SET('x','y','z'),
  b1 BIT(1), b8 BIT(8), b64 BIT(64),
  gen_v INT AS (i + 1) VIRTUAL, gen_s VARCHAR(220) AS (CONCAT(vc, '!')) PERSISTENT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		"INSERT INTO " + t + ` (id) VALUES (1)`,
		"INSERT INTO " + t + ` (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec_full, dec_small, f, d, fp,
  c, vc, tx, l1, l1t, asc_c, bin, vbin, bl, mbl, tbl, lbl, dt, dtm, dtm6, ts, ts6, tm, tm6, yr, js, en, st, b1, b8, b64) VALUES
 (2, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  '-12345678901234567890123456789012345.123456789012345678901234567890', 999.99, -3.40282e38, -1.7976931348623157e308, 1234.567,
  'emoji😀', 'quote '' " \\ back\\slash 😀🎉', CONCAT('nul', CHAR(0), 'byte', REPEAT('x', 3000)), 0xE9E8E0FF, 0xC0FFEE, 'abc',
  0x0001FF7F80000000, 0x00FF00FF27225C0A0D1A, 0x000102030405FEFF, REPEAT(0xAB, 70000), 0x00, 0x27,
  '0000-00-00', '0000-00-00 00:00:00', '2024-02-29 23:59:59.999999', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999',
  '-838:59:59', '838:59:59.000000', 1901, '{"a": [1, 2.5, "x\\u00e9"], "b": null, "c": {"d": true}}', 'é', 'x,z', b'1', b'10100101', 0xFFFFFFFFFFFFFFFF)`,
		"INSERT INTO " + t + ` (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec_full, dec_small, f, d, fp,
  c, vc, tx, l1, l1t, asc_c, bin, vbin, bl, mbl, tbl, lbl, dt, dtm, dtm6, ts, ts6, tm, tm6, yr, js, en, st, b1, b8, b64) VALUES
 (3, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
  '0.000000000000000000000000000001', 0, 1.17549e-38, 2.2250738585072014e-308, -0.001,
  '', '', '', '', '', '', '', '', '', '', '', '',
  '9999-12-31', '9999-12-31 23:59:59', '1000-01-01 00:00:00.000001', '2000-01-01 00:00:00', '2000-06-15 12:30:45.123456',
  '00:00:00', '-00:00:00.000001', 2155, '[]', 'c d', '', b'0', b'0', 0)`,
		"INSERT INTO " + t + ` (id, f, d, dtm, dt, yr, js, vc) VALUES (4, 0.1, 0.1, '2020-00-00 00:00:00', '2020-02-00', 0, '"str"', 'ok'),
  (5, 3.14159, 3.141592653589793, '2021-13-45 00:00:00', '2019-00-15', 2000, '123.5', NULL)`,
	}
	return stmts
}

// TypesTableIDs is the number of rows TypesTable inserts.
const TypesTableIDs = 5

// BulkTable creates db.name with a primary key and fills it with rows
// generated server-side (fast: INSERT ... SELECT from a sequence).
func BulkTable(db, name string, rows int) []string {
	t := "`" + db + "`.`" + name + "`"
	stmts := []string{
		"CREATE TABLE " + t + " (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, note VARCHAR(64) NULL, KEY (k)) ENGINE=InnoDB",
	}
	const batch = 100000
	for lo := 1; lo <= rows; lo += batch {
		hi := min(lo+batch-1, rows)
		stmts = append(stmts, fmt.Sprintf("INSERT INTO %s SELECT seq, seq %% 1000, CONCAT('c-', seq, '-', REPEAT('x', 100)), "+
			"REPEAT(CHAR(97 + seq %% 26), 60), IF(seq %% 7 = 0, NULL, CONCAT('n', seq)) FROM `%s`.seq_%d_to_%d", t, db, lo, hi))
	}
	return stmts
}

// NoKeyTable creates db.name without any key, with duplicate rows.
func NoKeyTable(db, name string, rows int) []string {
	t := "`" + db + "`.`" + name + "`"
	return []string{
		"CREATE TABLE " + t + " (a INT, b VARCHAR(20), c DOUBLE) ENGINE=InnoDB",
		fmt.Sprintf("INSERT INTO %s SELECT seq %% 10, IF(seq %% 3 = 0, NULL, CONCAT('v', seq %% 5)), seq / 7 FROM `%s`.seq_1_to_%d", t, db, rows),
	}
}

// CompositeKeyTable creates db.name with a composite string+int primary key
// (chunked by key scan) in a case-insensitive collation.
func CompositeKeyTable(db, name string, rows int) []string {
	t := "`" + db + "`.`" + name + "`"
	return []string{
		"CREATE TABLE " + t + " (region VARCHAR(16) NOT NULL, n INT NOT NULL, v VARCHAR(32), PRIMARY KEY (region, n)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
		fmt.Sprintf("INSERT INTO %s SELECT ELT(1 + seq %% 5, 'north', 'South', 'east', 'wést', 'Zone😀'), seq, CONCAT('v', seq) FROM `%s`.seq_1_to_%d", t, db, rows),
	}
}

// Views creates views over the seed tables: one with a DEFINER that the
// target does not have, one over a routed table (app.routed goes to
// other.renamed), one over another view (sorted before it), and one in a
// filtered-out schema.
func Views() []string {
	return []string{
		"CREATE VIEW app.v_bulk AS SELECT id, k, note FROM app.bulk WHERE id % 3 = 0",
		"CREATE DEFINER = 'nobody'@'10.9.9.9' SQL SECURITY INVOKER VIEW app.v_routed AS SELECT r.id, CONCAT(r.c, '|') AS cc FROM app.routed r WHERE r.k < 500",
		"CREATE VIEW app.a_of_v AS SELECT k, COUNT(*) AS n FROM app.v_bulk GROUP BY k",
		"CREATE VIEW skipme.v AS SELECT 1 AS one",
	}
}

// Quote quotes an identifier.
func Quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// InfileTypesTable is table types_infile: TypesTable's columns but BIT,
// its rows, and strings that only a correct LOAD DATA escape keeps apart
// (tabs, newlines, carriage returns, backslashes, NUL bytes, and the text
// \N next to NULL). It needs TypesTable(db) first.
func InfileTypesTable(db string) []string {
	t := "`" + db + "`.`types_infile`"
	cols := "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec_full, dec_small, f, d, fp, c, vc, tx, l1, l1t, asc_c, bin, vbin, bl, mbl, tbl, lbl, dt, dtm, dtm6, ts, ts6, tm, tm6, yr, js, en, st"
	return []string{
		"SET SESSION sql_mode = ''",
		"SET SESSION time_zone = '+00:00'",
		"CREATE TABLE " + t + " LIKE `" + db + "`.`types`",
		"ALTER TABLE " + t + " DROP COLUMN b1, DROP COLUMN b8, DROP COLUMN b64",
		"INSERT INTO " + t + " (" + cols + ") SELECT " + cols + " FROM `" + db + "`.`types`",
		"INSERT INTO " + t + ` (id, c, vc, tx, l1, bl, vbin) VALUES
 (10, '\\N', CONCAT('a', CHAR(9), 'b', CHAR(10), 'c', CHAR(13), 'd\\N', CHAR(0), 'e\\'), '\\\\N', CONCAT(CHAR(233), CHAR(9), '\\'), 0x5C4E, 0x095C0A00),
 (11, '', '', NULL, '', '', '')`,
	}
}
