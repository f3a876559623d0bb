package fsm

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// FSM holds the replicated state. Apply is called by one goroutine (raft's
// FSM loop); View, WaitIndex and Changed may be called from any goroutine.
type FSM struct {
	mu      sync.Mutex
	view    *View
	changed chan struct{} // closed and replaced on every change
}

// New returns an empty FSM.
func New() *FSM {
	return &FSM{view: emptyView(), changed: make(chan struct{})}
}

// View returns an immutable copy of the current state.
func (f *FSM) View() *View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view
}

// AppliedIndex returns the raft index of the last applied command.
func (f *FSM) AppliedIndex() uint64 { return f.View().Index }

// Changed returns a channel that is closed at the next change of the state.
// Readers are level-triggered: after it fires they read View again.
func (f *FSM) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// WaitIndex waits until the applied index is at least index.
func (f *FSM) WaitIndex(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		applied, ch := f.view.Index, f.changed
		f.mu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for index %d (applied %d): %w", index, applied, ctx.Err())
		}
	}
}

// Apply applies one raft log entry. data is a marshaled pb.Command. It
// returns the command's result; a business error changes nothing but still
// raises the applied index.
func (f *FSM) Apply(index uint64, data []byte) *pb.ApplyResult {
	var cmd pb.Command
	if err := proto.Unmarshal(data, &cmd); err != nil {
		panic(fmt.Sprintf("fsm: log entry %d is not a command: %v", index, err))
	}
	f.mu.Lock()
	current := f.view
	f.mu.Unlock()

	next := current.clone()
	next.Index = index
	res := applyCommand(next, &cmd)
	res.Index = index
	if res.Code != "" {
		// Business errors change nothing but the applied index.
		next = current.withIndex(index)
	}
	f.publish(next)
	return res
}

func (f *FSM) publish(next *View) {
	f.mu.Lock()
	f.view = next
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// withIndex returns a shallow copy of v at a new index.
func (v *View) withIndex(index uint64) *View {
	c := *v
	c.Index = index
	return &c
}

// clone copies the maps of v; the records stay shared, so an apply function
// that changes a record must replace it with a modified clone (see put*).
func (v *View) clone() *View {
	return &View{
		Index:           v.Index,
		Nodes:           cloneMap(v.Nodes),
		Sources:         cloneMap(v.Sources),
		Bindings:        cloneMap(v.Bindings),
		Tasks:           cloneMap(v.Tasks),
		Subtasks:        cloneMap(v.Subtasks),
		ShardInfos:      cloneMap(v.ShardInfos),
		ShardLocks:      cloneMap(v.ShardLocks),
		ShardOperations: cloneMap(v.ShardOperations),
		RetiredEpochs:   cloneMap(v.RetiredEpochs),
	}
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// NewCommand wraps body into a command envelope stamped with the proposer's time.
func NewCommand(t pb.CommandType, body proto.Message, nowUnixMs int64) *pb.Command {
	b, err := proto.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("fsm: marshal %v: %v", t, err))
	}
	return &pb.Command{Type: t, Body: b, NowUnixMs: nowUnixMs}
}

// Encode marshals a command for the raft log.
func Encode(cmd *pb.Command) []byte {
	b, err := proto.Marshal(cmd)
	if err != nil {
		panic(fmt.Sprintf("fsm: marshal command: %v", err))
	}
	return b
}
