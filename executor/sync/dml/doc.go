// Package dml turns row changes into SQL for the target: the table model
// the statements need (columns, character sets, keys), value literals that
// round-trip exactly, and the statements of one worker batch — multi-row
// INSERT, multi-row DELETE by key, UPDATE by key, and for tables without a
// key DELETE/UPDATE that match every column with LIMIT 1 — and
// BuildMerged, which first merges a batch's changes to the same row where
// that is exact (tables whose only unique key is the handle) into at most
// four multi-row statements per table. Merging is always on: it changes
// how a batch is written, never what the target holds after its commit.
//
// It is pure: no I/O, no clock. Values are the Go values go-mysql decodes
// with UseDecimal and without ParseTime (integers, float32/64,
// decimal.Decimal, strings for temporal types, []byte/string for strings).
package dml
