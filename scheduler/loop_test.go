package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// fakeLeader is a one-node "cluster": an FSM, a proposal log, and a switch
// for leadership and for failing the next proposals.
type fakeLeader struct {
	f        *fsm.FSM
	leader   atomic.Bool
	mu       sync.Mutex
	index    uint64
	proposed []*pb.Command
	failNext int // fail this many proposals with errBoom
	staleNxt int // answer this many proposals with StaleEpoch
}

var errBoom = errors.New("boom: not the leader any more")

func newFakeLeader(t *testing.T, nodes, sources []string) *fakeLeader {
	fl := &fakeLeader{f: fsm.New()}
	for _, n := range nodes {
		fl.apply(t, fsm.NewCommand(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: &pb.Node{Name: n, RaftAddr: n + ":8291"}}, 1))
	}
	for _, s := range sources {
		fl.apply(t, fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: s}}, 1))
	}
	return fl
}

func (fl *fakeLeader) apply(t *testing.T, cmd *pb.Command) {
	t.Helper()
	if res, _ := fl.propose(context.Background(), cmd); res.Code != "" {
		t.Fatalf("setup: %s", res.Message)
	}
	fl.mu.Lock()
	fl.proposed = nil
	fl.mu.Unlock()
}

func (fl *fakeLeader) propose(_ context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.proposed = append(fl.proposed, cmd)
	if fl.failNext > 0 {
		fl.failNext--
		return nil, errBoom
	}
	if fl.staleNxt > 0 {
		fl.staleNxt--
		return &pb.ApplyResult{Code: fsm.CodeStaleEpoch, Message: "raced"}, nil
	}
	fl.index++
	return fl.f.Apply(fl.index, fsm.Encode(cmd)), nil
}

func (fl *fakeLeader) proposals() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.proposed)
}

var loopNow = t0.Add(time.Hour)

func (fl *fakeLeader) loop() *Loop {
	return &Loop{
		View:     fl.f.View,
		Changed:  fl.f.Changed,
		Members:  func() []Member { return alive(loopNow, "n1", "n2") },
		Propose:  fl.propose,
		IsLeader: fl.leader.Load,
		Now:      func() time.Time { return loopNow },
		Config:   cfg,
		Tick:     5 * time.Millisecond,
		Logger:   zerolog.Nop(),
	}
}

// start runs the loop until the test ends.
func start(t *testing.T, l *Loop) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitBound waits until every source is bound.
func waitBound(t *testing.T, f *fsm.FSM) *fsm.View {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		changed := f.Changed()
		v := f.View()
		if len(v.Bindings) == len(v.Sources) {
			return v
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("sources not bound: %v", v.Bindings)
		}
	}
}

func TestLoop(t *testing.T) {
	t.Run("a follower proposes nothing", func(t *testing.T) {
		fl := newFakeLeader(t, []string{"n1", "n2"}, []string{"s1", "s2"})
		start(t, fl.loop())
		time.Sleep(50 * time.Millisecond) // ten ticks
		if n := fl.proposals(); n != 0 {
			t.Fatalf("follower proposed %d commands", n)
		}
	})
	t.Run("the leader binds, stamping the time", func(t *testing.T) {
		fl := newFakeLeader(t, []string{"n1", "n2"}, []string{"s1", "s2"})
		fl.leader.Store(true)
		start(t, fl.loop())
		v := waitBound(t, fl.f)
		for _, id := range []string{"s1", "s2"} {
			if b := v.Bindings[id]; b.Epoch != 1 || b.BoundUnixMs != loopNow.UnixMilli() {
				t.Errorf("binding %v: want epoch 1 bound at %d", b, loopNow.UnixMilli())
			}
		}
		if v.Bindings["s1"].Node == v.Bindings["s2"].Node {
			t.Errorf("both sources on one node: %v", v.Bindings)
		}
	})
	t.Run("a follower that becomes leader starts planning", func(t *testing.T) {
		fl := newFakeLeader(t, []string{"n1"}, []string{"s1"})
		start(t, fl.loop())
		time.Sleep(20 * time.Millisecond)
		fl.leader.Store(true) // no FSM change: the tick must pick it up
		waitBound(t, fl.f)
	})
	t.Run("failed and raced proposals are retried", func(t *testing.T) {
		fl := newFakeLeader(t, []string{"n1", "n2"}, []string{"s1", "s2"})
		fl.failNext, fl.staleNxt = 2, 2
		fl.leader.Store(true)
		start(t, fl.loop())
		waitBound(t, fl.f)
		if n := fl.proposals(); n != 6 {
			t.Errorf("%d proposals, want 2 failed + 2 stale + 2 applied", n)
		}
	})
}
