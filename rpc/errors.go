package rpc

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dmraft/dmraft/cluster"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/scheduler"
)

// notLeaderPrefix marks an Unavailable error that a client should retry
// against the leader; it is never shown to users.
const notLeaderPrefix = "not leader"

// errNotLeader is returned to a forwarded call that reached a non-leader.
var errNotLeader = status.Error(codes.Unavailable, notLeaderPrefix+": the leader changed, retry")

// toStatus maps an internal error to a gRPC status with a message a user can act on.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var ae *fsm.ApplyError
	var pe *scheduler.Error
	switch {
	case errors.As(err, &pe):
		return status.Error(planCode(pe.Kind), pe.Error())
	case errors.As(err, &ae):
		return status.Error(applyCode(ae.Code), ae.Message)
	case errors.Is(err, cluster.ErrNotLeader):
		return status.Error(codes.Unavailable, notLeaderPrefix+": "+err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error()+" (is a quorum of nodes up? `dmctl list-member` shows them)")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

func applyCode(code string) codes.Code {
	switch {
	case strings.HasSuffix(code, "Exists"):
		return codes.AlreadyExists
	case strings.HasSuffix(code, "NotFound"):
		return codes.NotFound
	case code == fsm.CodeInvalidCommand:
		return codes.InvalidArgument
	}
	return codes.FailedPrecondition
}

func planCode(kind error) codes.Code {
	switch kind {
	case scheduler.ErrInvalidRequest, scheduler.ErrSourcesChanged, scheduler.ErrBadStage:
		return codes.InvalidArgument
	case scheduler.ErrSourceNotFound, scheduler.ErrNodeNotFound, scheduler.ErrTaskNotFound, scheduler.ErrSubtaskNotFound:
		return codes.NotFound
	case scheduler.ErrTaskExists:
		return codes.AlreadyExists
	}
	return codes.FailedPrecondition
}

func invalid(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

// IsNotLeader reports whether err asks the caller to retry at the leader.
func IsNotLeader(err error) bool {
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unavailable && strings.HasPrefix(s.Message(), notLeaderPrefix)
}
