package fsm

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// applyFunc changes next (a private copy of the state) for one command.
type applyFunc func(next *View, cmd *pb.Command) *pb.ApplyResult

var registry = map[pb.CommandType]applyFunc{}

// register binds a command type to its apply function; newBody returns an
// empty body message that the command's bytes decode into.
func register[T proto.Message](t pb.CommandType, newBody func() T, apply func(next *View, body T, nowUnixMs int64) *pb.ApplyResult) {
	if _, dup := registry[t]; dup {
		panic(fmt.Sprintf("fsm: command %v registered twice", t))
	}
	registry[t] = func(next *View, cmd *pb.Command) *pb.ApplyResult {
		body := newBody()
		if err := proto.Unmarshal(cmd.Body, body); err != nil {
			panic(fmt.Sprintf("fsm: body of %v does not decode: %v", t, err))
		}
		return apply(next, body, cmd.NowUnixMs)
	}
}

func applyCommand(next *View, cmd *pb.Command) *pb.ApplyResult {
	fn, found := registry[cmd.Type]
	if !found {
		panic(fmt.Sprintf("fsm: unknown command type %v", cmd.Type))
	}
	if cmd.FenceSource != "" {
		if res := checkEpoch(next, cmd.FenceSource, cmd.FenceEpoch); res != nil {
			return res
		}
	}
	return fn(next, cmd)
}
