package scheduler

import (
	"errors"
	"fmt"
)

// Kinds of planning errors. Every error returned by a Plan* function is an
// *Error that wraps one of these; test with errors.Is.
var (
	// ErrInvalidRequest is a request with a missing or malformed field.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrSourceNotFound names a source that does not exist.
	ErrSourceNotFound = errors.New("source not found")
	// ErrNodeNotFound names a node that is not a registered member.
	ErrNodeNotFound = errors.New("node not found")
	// ErrNodeNotAlive asks to bind a source to a node that is not alive.
	ErrNodeNotAlive = errors.New("node not alive")
	// ErrAlreadyBound asks to transfer a source to the node that already
	// holds it. Callers that want transfer-source to be idempotent treat it
	// as success.
	ErrAlreadyBound = errors.New("source already bound to the node")
	// ErrMemberAlive asks to take a node offline that is still alive.
	ErrMemberAlive = errors.New("member is alive")
	// ErrTaskExists starts a task whose name is taken.
	ErrTaskExists = errors.New("task exists")
	// ErrTaskNotFound names a task that does not exist.
	ErrTaskNotFound = errors.New("task not found")
	// ErrSubtaskNotFound names a source on which the task has no subtask.
	ErrSubtaskNotFound = errors.New("subtask not found")
	// ErrSourcesChanged is an update-task that adds or removes sources.
	ErrSourcesChanged = errors.New("task sources changed")
	// ErrBadStage asks for a stage or a transition that pause-task and
	// resume-task do not offer.
	ErrBadStage = errors.New("bad stage transition")
)

// Error is a planning error: what is wrong, and what the user can do.
type Error struct {
	Kind       error  // one of the Err* values above
	Message    string // what is wrong
	Workaround string // how to fix it; may be empty
}

func (e *Error) Error() string {
	if e.Workaround == "" {
		return e.Message
	}
	return e.Message + "; " + e.Workaround
}

// Unwrap returns the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func planError(kind error, workaround, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Workaround: workaround}
}
