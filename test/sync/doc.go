// Package syncsuite (directory test/sync) holds the integration tests of
// the sync unit with real dmnode processes and real MariaDB servers:
// task-mode all under a write workload that runs during the full phase and
// after it (every column type, primary-key changes, a keyless table with
// duplicate rows, large transactions including one split over the
// workers, DDL during the full phase and in the middle of the sync,
// update-task to another worker count); kill -9 of the bound node
// mid-stream, during the load and mid-way through a transaction applied in
// batches; SIGSTOP of the bound node (with a check of the batch log that
// the paused node committed nothing after the source moved); restarts of
// the source and of the target; and bad input that must pause the subtask
// with a clear error: a STATEMENT binlog, a DDL or a row the target
// rejects, a purged binlog.
//
// The workload (workload_test.go) is one goroutine of source transactions
// with a fixed seed; tests wait with deadlines (harness.Eventually), never
// with sleeps as assertions.
//
// Every test ends with the target equal to the source, table by table
// (row count and an order-independent checksum, see mariadb.RowChecksum).
package syncsuite
