package harness

import (
	"encoding/json"
	"fmt"
)

// QueryStatus is the JSON of `dmctl query-status TASK` (DM's shape): the
// fields the tests read.
type QueryStatus struct {
	Sources []SourceStatus `json:"sources"`
}

// SourceStatus is one source of a task in QueryStatus: the node it is
// bound to and its subtasks.
type SourceStatus struct {
	SourceStatus struct {
		Source string `json:"source"`
		Worker string `json:"worker"`
		Epoch  uint64 `json:"epoch"`
	} `json:"sourceStatus"`
	SubTaskStatus []SubtaskStatus `json:"subTaskStatus"`
}

// SubtaskStatus is one subtask in QueryStatus. Progress is the running
// unit's own status (decode it into the unit's type).
type SubtaskStatus struct {
	Stage         string          `json:"stage"`
	DesiredStage  string          `json:"desiredStage"`
	Unit          string          `json:"unit"`
	FinishedUnits []string        `json:"finishedUnits"`
	Progress      json.RawMessage `json:"progress"`
	Result        *struct {
		Errors []SubtaskError `json:"errors"`
	} `json:"result"`
}

// SubtaskError is one error a subtask paused with.
type SubtaskError struct {
	ErrCode, ErrClass, Message, Workaround string
}

// Errors returns the errors the subtask paused with; none while it runs.
func (s SubtaskStatus) Errors() []SubtaskError {
	if s.Result == nil {
		return nil
	}
	return s.Result.Errors
}

// QueryStatus runs `dmctl query-status task`.
func (c *Cluster) QueryStatus(task string) (QueryStatus, error) {
	var q QueryStatus
	err := c.DmctlJSON(&q, "query-status", task)
	return q, err
}

// Subtask is the status of the only subtask of a one-source task, with the
// node it runs on and the source's epoch.
type Subtask struct {
	Worker string
	Epoch  uint64
	SubtaskStatus
}

// OnlySubtask returns the status of task's only subtask; a task with more
// sources or subtasks is an error.
func (c *Cluster) OnlySubtask(task string) (Subtask, error) {
	q, err := c.QueryStatus(task)
	if err != nil {
		return Subtask{}, err
	}
	if len(q.Sources) != 1 || len(q.Sources[0].SubTaskStatus) != 1 {
		return Subtask{}, fmt.Errorf("query-status: want one subtask, got %+v", q)
	}
	s := q.Sources[0]
	return Subtask{Worker: s.SourceStatus.Worker, Epoch: s.SourceStatus.Epoch, SubtaskStatus: s.SubTaskStatus[0]}, nil
}
