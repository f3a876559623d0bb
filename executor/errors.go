package executor

import (
	"errors"

	pb "github.com/dmraft/dmraft/proto"
)

// Error is a unit error with the fields query-status shows.
type Error struct {
	Code       string
	Class      string // e.g. "source", "target", "config", "internal"
	Message    string
	Workaround string
	Err        error
	// Position is the binlog position of the DDL the sync unit paused at
	// (for `dmctl binlog skip|replace`); empty otherwise.
	Position string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// subtaskError turns any error into the record kept in the FSM.
func subtaskError(task, unit string, err error) *pb.SubtaskError {
	var e *Error
	if errors.As(err, &e) {
		return &pb.SubtaskError{Code: e.Code, Class: e.Class, Message: e.Error(), Workaround: e.Workaround, Unit: unit, BinlogPosition: e.Position}
	}
	return &pb.SubtaskError{Code: "Unknown", Class: "internal", Message: err.Error(),
		Workaround: "fix the cause, then `dmctl resume-task " + task + "`", Unit: unit}
}
