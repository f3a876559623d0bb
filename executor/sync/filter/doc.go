// Package filter holds the pure rules of the sync unit: DM's binlog event
// filters (schema/table patterns, events, sql-pattern, action Do, Ignore or
// Error) and the DDL model: a statement parsed with the TiDB parser,
// classified into DM's event names, the tables it names, and a rewrite of
// those names through the task's routes.
//
// Block-allow-list and routes themselves are package dump's Selector, so
// the full and the incremental phase select and name tables the same way.
package filter
