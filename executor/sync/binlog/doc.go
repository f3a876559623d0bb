// Package binlog reads an upstream's binlog with go-mysql's BinlogSyncer
// (MySQL and MariaDB flavors) and turns it into position-stamped events:
// transaction begin, row changes with column names, DDL, commit.
//
// Column names come from the TableMapEvent's optional metadata, which the
// server writes with binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB
// 10.5+). The names are those of the table at that point of the binlog, so
// they are right after any ALTER without a schema model of our own. A
// server without FULL metadata is refused by CheckSource with the setting
// to change; we do not guess names from the current schema, which would be
// wrong for events written before an ALTER.
//
// Every event carries the position where it starts and where it ends.
// Positions are ordered by binlog file sequence number, then offset, so a
// replay can compare them with the checkpoint. The reader does not retry:
// a broken connection ends Next with an error, and the caller restarts
// from its committed checkpoint (package syncer), which keeps a single
// code path for restarts, failovers and source restarts.
package binlog
