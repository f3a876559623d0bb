// Package precheck holds the checks that check-task and start-task run
// against the upstream and target servers: reachability, privileges,
// binlog settings for the task-mode, tables without a key, target
// writability. The checks are plain functions over *sql.DB returning
// items (pass, warn, fail) whose fix says what to do; Task connects and
// runs them all. Nothing here writes to any server.
package precheck
