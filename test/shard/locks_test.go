package shard

import (
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

type lockStatus struct {
	ID       string   `json:"id"`
	Mode     string   `json:"mode"`
	Owner    string   `json:"owner"`
	DDLs     []string `json:"ddls"`
	Synced   []string `json:"synced"`
	Unsynced []string `json:"unsynced"`
	Ready    bool     `json:"ready"`
	Resolved bool     `json:"resolved"`
	Conflict string   `json:"conflict"`
}

func (e *env) locks() ([]lockStatus, error) {
	var out struct {
		Locks []lockStatus `json:"locks"`
	}
	err := e.c.DmctlJSON(&out, "shard-ddl-lock", e.task)
	return out.Locks, err
}

// waitLock waits until the task's lock satisfies cond and returns it.
func (e *env) waitLock(what string, timeout time.Duration, cond func(l lockStatus) bool) lockStatus {
	e.t.Helper()
	var got []lockStatus
	var err error
	var hit lockStatus
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		if got, err = e.locks(); err != nil {
			return false
		}
		for _, l := range got {
			if cond(l) {
				hit = l
				return true
			}
		}
		return false
	}) {
		e.t.Fatalf("%s: not within %v: locks %+v %v", what, timeout, got, err)
	}
	return hit
}

// waitNoLock waits until the task has no lock left.
func (e *env) waitNoLock(timeout time.Duration) {
	e.t.Helper()
	var got []lockStatus
	var err error
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		got, err = e.locks()
		return err == nil && len(got) == 0
	}) {
		e.t.Fatalf("the shard-DDL lock is still there after %v: %+v %v", timeout, got, err)
	}
}

// waitTargetColumn waits until the target has (or lacks) a column.
func (e *env) waitTargetColumn(col string, want bool, timeout time.Duration) {
	e.t.Helper()
	db := e.downDB
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND COLUMN_NAME = ?", col).Scan(&n)
		return err == nil && (n == 1) == want
	}) {
		e.t.Fatalf("target column %s present=%v not reached in %v", col, want, timeout)
	}
}

// requireNoTargetColumn fails the test when the target has col already.
func (e *env) requireNoTargetColumn(col string) {
	e.t.Helper()
	var n int
	if err := e.downDB.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND COLUMN_NAME = ?", col).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	if n > 0 {
		e.t.Fatalf("the target has %s before every shard arrived", col)
	}
}
