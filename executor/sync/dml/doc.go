// Package dml turns row changes into SQL for the target: the table model
// the statements need (columns, character sets, keys), value literals that
// round-trip exactly, and the statements of one worker batch — multi-row
// INSERT, multi-row DELETE by key, UPDATE by key, and for tables without a
// key DELETE/UPDATE that match every column with LIMIT 1.
//
// It is pure: no I/O, no clock. Values are the Go values go-mysql decodes
// with UseDecimal and without ParseTime (integers, float32/64,
// decimal.Decimal, strings for temporal types, []byte/string for strings).
package dml
