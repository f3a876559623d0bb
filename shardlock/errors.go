package shardlock

import "errors"

// Kinds of errors. Errors returned by this package wrap one of these; test
// with errors.Is.
var (
	// ErrParse is a statement the TiDB parser cannot read.
	ErrParse = errors.New("cannot parse statement")
	// ErrUnsupportedDDL is a DDL that optimistic coordination cannot track
	// (renames, partitions, expression indexes, statements other than
	// ALTER TABLE / CREATE INDEX / DROP INDEX).
	ErrUnsupportedDDL = errors.New("unsupported DDL")
	// ErrBadDDL is a DDL that does not fit the table it runs on (a column
	// added twice, an index on a missing column, ...).
	ErrBadDDL = errors.New("DDL does not fit the table")
	// ErrNotRegistered is a report for a shard table that was never
	// registered with Register.
	ErrNotRegistered = errors.New("shard table not registered")
	// ErrNotPending is MarkDone for a shard table that reported no DDL.
	ErrNotPending = errors.New("shard table has no pending DDL")
	// ErrNoOperation is MarkDone for a shard table that has no exec or skip
	// operation for its DDLs: it must keep waiting.
	ErrNoOperation = errors.New("no operation to finish")
	// ErrLockNotFound names a lock that does not exist.
	ErrLockNotFound = errors.New("shard DDL lock not found")
	// ErrNothingToUnlock is an unlock of a lock that is not stuck in a way
	// a plain unlock can help; the message says what it waits for.
	ErrNothingToUnlock = errors.New("nothing to unlock")
)
