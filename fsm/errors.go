package fsm

import (
	"errors"
	"fmt"

	pb "github.com/dmraft/dmraft/proto"
)

// Result codes of business errors returned by Apply. Each changes nothing.
const (
	CodeNodeExists        = "NodeExists"        // a node with this name or address is registered
	CodeNodeNotFound      = "NodeNotFound"      // no node with this name
	CodeSourceExists      = "SourceExists"      // source id already registered
	CodeSourceNotFound    = "SourceNotFound"    // no source with this id
	CodeSourceInUse       = "SourceInUse"       // a task still uses the source
	CodeStaleEpoch        = "StaleEpoch"        // the command's epoch is not the expected one
	CodeTaskExists        = "TaskExists"        // task name already used
	CodeTaskNotFound      = "TaskNotFound"      // no task with this name
	CodeSubtaskNotFound   = "SubtaskNotFound"   // the task has no subtask for this source
	CodeStaleRevision     = "StaleRevision"     // update-task, or a versioned shard lock put/remove, not at old + 1
	CodeInvalidCommand    = "InvalidCommand"    // a required field is missing
	CodeShardLockNotFound = "ShardLockNotFound" // no shard lock with this id
	CodeShardInfoChanged  = "ShardInfoChanged"  // a conditional shard info put/remove read a state that has changed since
)

// ApplyError is a business error returned by Apply.
type ApplyError struct {
	Code    string
	Message string
}

func (e *ApplyError) Error() string { return e.Message }

// ResultError converts an apply result into an error; nil on success.
func ResultError(res *pb.ApplyResult) error {
	if res == nil || res.Code == "" {
		return nil
	}
	return &ApplyError{Code: res.Code, Message: res.Message}
}

// HasCode reports whether err is (or wraps) an ApplyError with code.
func HasCode(err error, code string) bool {
	var ae *ApplyError
	return errors.As(err, &ae) && ae.Code == code
}

func fail(code, format string, args ...any) *pb.ApplyResult {
	return &pb.ApplyResult{Code: code, Message: fmt.Sprintf(format, args...)}
}

func ok() *pb.ApplyResult { return &pb.ApplyResult{} }
