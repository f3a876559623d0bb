package shard

import (
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// status returns query-status of the task.
func (e *env) status() (harness.QueryStatus, error) { return e.c.QueryStatus(e.task) }

// failOnError fails the test when a subtask reports an error (a pause).
func (e *env) failOnError() {
	e.t.Helper()
	if e.paused.Load() {
		return
	}
	q, err := e.status()
	if err != nil {
		return
	}
	for _, s := range q.Sources {
		for _, st := range s.SubTaskStatus {
			if errs := st.Errors(); len(errs) > 0 {
				e.t.Fatalf("subtask of %s: %+v\n%s", s.SourceStatus.Source, errs, e.c.MustDmctl("shard-ddl-lock", e.task))
			}
		}
	}
}

// waitPaused waits until the subtask of source reports an error with
// code, and returns its message and workaround. Errors are expected from
// here on until e.paused is cleared.
func (e *env) waitPaused(source, code string, timeout time.Duration) string {
	e.t.Helper()
	e.paused.Store(true)
	var q harness.QueryStatus
	var found string
	if !harness.Eventually(timeout, func() bool {
		var err error
		if q, err = e.status(); err != nil {
			return false
		}
		for _, s := range q.Sources {
			for _, st := range s.SubTaskStatus {
				if s.SourceStatus.Source != source {
					continue
				}
				for _, er := range st.Errors() {
					if er.ErrCode == code {
						found = er.Message + "\n  workaround: " + er.Workaround
						return true
					}
				}
			}
		}
		return false
	}) {
		e.t.Fatalf("the subtask of %s did not pause with %s in %v: %+v", source, code, timeout, q)
	}
	e.t.Logf("%s paused as expected: %s", source, found)
	return found
}

// waitSyncing waits until both subtasks run the sync unit.
func (e *env) waitSyncing(timeout time.Duration) {
	e.t.Helper()
	var q harness.QueryStatus
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		var err error
		if q, err = e.status(); err != nil || len(q.Sources) != 2 {
			return false
		}
		for _, s := range q.Sources {
			if len(s.SubTaskStatus) != 1 || s.SubTaskStatus[0].Unit != "sync" {
				return false
			}
		}
		return true
	}) {
		e.t.Fatalf("the subtasks did not reach the sync unit in %v: %+v", timeout, q)
	}
}
