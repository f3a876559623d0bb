// Package load owns the target side of the full copy: it creates the
// routed schemas and tables, keeps the chunk plan in the meta schema, and
// writes one chunk per transaction together with its checkpoint row and the
// epoch check (package target), so a chunk is loaded completely or not at
// all and never twice. It never reads the source. For task-mode load it
// reads a dump directory (files.go): dmraft's or mydumper's layout, one
// chunk per data file, statements re-aimed at the routed target table.
package load
