// Package target owns dmraft's side of the target database: the
// connection (session settings that make values round-trip), the meta
// schema (`meta-schema`, default dm_meta) and the fencing token.
//
// # Fencing
//
// The meta table `epochs` holds one row per (task, source): the incarnation
// of the source (the FSM record's creation time) and the binding epoch of
// the node that owns it. A new owner calls RaiseEpoch before it writes
// anything; every write transaction calls CheckEpoch first.
//
// CheckEpoch is a locking read (SELECT ... LOCK IN SHARE MODE) of that row
// inside the writer's own transaction. RaiseEpoch is an UPDATE of the same
// row and needs an exclusive lock, so:
//
//  1. a writer that read the row before the raise holds its shared lock to
//     commit or rollback; the raise waits for it. Its commit happens before
//     the new owner starts, while its epoch was still the current one;
//  2. a writer that reads the row after the raise sees the new epoch (a
//     locking read always reads the latest committed version, never the
//     transaction's snapshot) and aborts with ErrFenced;
//  3. a paused old owner that wakes up is in case 1 (its connection was
//     killed by the server after wait_timeout, which the writer sessions
//     set low, so the raise did not wait forever and the paused
//     transaction rolled back) or in case 2. Either way it cannot commit.
//
// Shared locks let the loader's connections write in parallel; only the
// raise excludes them.
//
// # Fenced writes in two round trips
//
// WriteFenced sends "BEGIN; <epoch read>; <statements>" as one
// multi-statement packet (more when the statements are large) and then,
// only if the epoch read returned exactly the writer's token, COMMIT. The
// server runs the statements before the client has looked at the epoch,
// so a stale writer's statements do execute, but inside its transaction:
// the client sees the newer epoch and rolls back (or, if its connection
// dies first, the server rolls back). What the argument above needs is
// only that (a) the locking read happens inside the transaction before
// COMMIT and (b) COMMIT is sent only after the read returned our token;
// where in the transaction the read sits does not matter, because:
//
//   - if the raise committed before the read, the read sees the new epoch
//     (case 2) and COMMIT is never sent;
//   - if the raise holds the row's exclusive lock, the read waits for it
//     and then sees the new epoch: the same;
//   - otherwise the read takes the shared lock, and the raise waits until
//     this transaction ends: it commits while its token is current.
//
// The read is placed first after BEGIN anyway, so the shared lock covers
// every write of the transaction as with CheckEpoch. No new deadlock is
// possible: a raise locks only the epoch row. When a statement fails, the
// epoch result already read decides first: a stale writer reports
// ErrFenced, not the statement's error.
//
// # Incarnations
//
// RemoveSource forgets a source's epoch in the FSM, so a re-created source
// starts again at epoch 1 while the target still remembers a higher epoch
// of the old one. The row therefore also stores the incarnation (the
// source's created_unix_ms, stamped by the leader): a raise from a newer
// incarnation replaces the row whatever its epoch; a raise or check from an
// older incarnation is fenced; within one incarnation the epoch never goes
// down. The caveat is leader clock skew between the removal and the
// re-creation of a source, which would have to exceed the time between
// them.
//
// Every committed chunk also records the epoch it was written under (see
// package load), so a checker can verify that no stale write committed.
//
// This package never reads the FSM and never logs a password.
//
// # TiDB
//
// TiDB has no shared row locks (it refuses LOCK IN SHARE MODE unless
// told to treat it as a no-op, which would drop the fence). On TiDB
// (Meta.ForServer) the epoch read is SELECT ... FOR UPDATE: the same
// argument holds with an exclusive lock, at the price of one source's
// writers committing one after another.
package target
