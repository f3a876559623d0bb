package dump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// InfilePlaceholder is the file name in a LOAD DATA batch's SQL; the
// writer replaces it with the name its rows are registered under.
const InfilePlaceholder = "Reader::dmraft-rows"

// Infileable reports whether every inserted column of t round-trips
// through LOAD DATA ... CHARACTER SET binary: numbers, temporal values,
// character and binary strings, ENUM, SET, JSON as the bytes the source
// returns; BIT and YEAR through a conversion (infileColumn). Spatial and
// unknown types are loaded with INSERT.
func Infileable(t *Table) bool {
	for _, c := range t.Inserted() {
		if kindOf(c) == kindOther {
			return false
		}
	}
	return true
}

// infileColumn is how column c (the i-th) appears in a LOAD DATA column
// list, and its SET assignment when its field needs a conversion: LOAD
// DATA cannot assign BIT's bytes, and reads the text 0000 into a YEAR as
// 2000; both go through a user variable.
func infileColumn(i int, c Column) (target, set string) {
	name := quoteIdent(c.Name)
	v := fmt.Sprintf("@dmraft_%d", i)
	switch {
	case kindOf(c) == kindBits:
		return v, name + " = CAST(CONV(HEX(" + v + "), 16, 10) AS UNSIGNED)"
	case c.DataType == "year":
		return v, name + " = CAST(" + v + " AS UNSIGNED)"
	}
	return name, ""
}

// StreamChunkInfile is StreamChunk for LOAD DATA LOCAL INFILE: each batch
// is one statement naming InfilePlaceholder and its rows, about maxBytes
// of tab-separated text, in Infile. verb is "INSERT", "REPLACE" or
// "INSERT IGNORE" as for StreamChunk; note that the server treats a LOCAL
// load as IGNORE whatever the verb, so the writer must check that every
// row was loaded without a warning.
func StreamChunkInfile(ctx context.Context, q Querier, c *Chunk, verb string, maxBytes int, emit func(Batch) error) (int64, error) {
	rows, cols, _, err := queryChunk(ctx, q, c)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	stmt := []byte(loadDataSQL(quoteTable(c.Table.TargetSchema, c.Table.TargetName), cols, verb))
	return streamRows(c, rows, maxBytes, appendTSVRow, func(buf []byte, n int64) error {
		return emit(Batch{SQL: stmt, Rows: n, Infile: buf})
	})
}

// loadDataSQL is the LOAD DATA statement for appendTSVRow's format.
func loadDataSQL(into string, cols []Column, verb string) string {
	targets := make([]string, len(cols))
	var sets []string
	for i, c := range cols {
		var set string
		targets[i], set = infileColumn(i, c)
		if set != "" {
			sets = append(sets, set)
		}
	}
	tail := ""
	if len(sets) > 0 {
		tail = " SET " + strings.Join(sets, ", ")
	}
	mode := ""
	switch strings.ToUpper(verb) {
	case "REPLACE":
		mode = " REPLACE"
	case "INSERT IGNORE":
		mode = " IGNORE"
	}
	return "LOAD DATA LOCAL INFILE '" + InfilePlaceholder + "'" + mode + " INTO TABLE " + into +
		" CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + strings.Join(targets, ",") + ")" + tail
}

// appendTSVRow appends one row: fields separated by tabs, NULL as \N, and
// backslash, tab, newline, carriage return and NUL escaped with a
// backslash, so any bytes round-trip.
func appendTSVRow(buf []byte, raw []sql.RawBytes) []byte {
	for i, v := range raw {
		if i > 0 {
			buf = append(buf, '\t')
		}
		if v == nil {
			buf = append(buf, '\\', 'N')
			continue
		}
		buf = appendEscaped(buf, v, &tsvEscape)
	}
	return append(buf, '\n')
}

// tsvEscape maps a byte to the letter after the backslash in its escape,
// or 0 when the byte is written as is.
var tsvEscape = [256]byte{0: '0', '\\': '\\', '\t': 't', '\n': 'n', '\r': 'r'}
