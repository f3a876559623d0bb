package leaderloop

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/dmraft/dmraft/proto"
)

// fakeState is what the loop plans from: the steps still to do, closed off
// by an applied proposal. It stands for the FSM and the proposer.
type fakeState struct {
	mu       sync.Mutex
	pending  []string
	changed  chan struct{}
	proposed []string // every proposal, in order, as "step@NowUnixMs"
	reported []string // every Report, in order, as "step:outcome"
	failNext int      // fail this many proposals with errNotLeader
	rejectOn string   // answer proposals of this step with a rejection
	leader   atomic.Bool
}

var errNotLeader = errors.New("not the leader")

func newFakeState(steps ...string) *fakeState {
	return &fakeState{pending: steps, changed: make(chan struct{})}
}

func (s *fakeState) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *fakeState) plan(time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pending)
}

func (s *fakeState) propose(_ context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	step := string(cmd.Body)
	s.proposed = append(s.proposed, step+"@"+time.UnixMilli(cmd.NowUnixMs).UTC().Format("15:04"))
	switch {
	case s.failNext > 0:
		s.failNext--
		return nil, errNotLeader
	case step == s.rejectOn:
		return &pb.ApplyResult{Code: "Rejected", Message: "no"}, nil
	}
	s.pending = slices.DeleteFunc(s.pending, func(p string) bool { return p == step })
	close(s.changed)
	s.changed = make(chan struct{})
	return &pb.ApplyResult{}, nil
}

func (s *fakeState) report(step string, res *pb.ApplyResult, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "error"
	} else if res.GetCode() != "" {
		outcome = res.GetCode()
	}
	s.reported = append(s.reported, step+":"+outcome)
}

func (s *fakeState) snapshot() (pending, proposed, reported []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pending), slices.Clone(s.proposed), slices.Clone(s.reported)
}

var leaderTime = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

func (s *fakeState) loop(tick time.Duration) *Loop[string] {
	return &Loop[string]{
		Changed: s.Changed, IsLeader: s.leader.Load, Propose: s.propose,
		Now:     func() time.Time { return leaderTime },
		Tick:    tick,
		Plan:    s.plan,
		Command: func(step string) *pb.Command { return &pb.Command{Body: []byte(step)} },
		Report:  s.report,
	}
}

// run runs l until the test ends and checks that Run returns once ctx is done.
func run(t *testing.T, l *Loop[string]) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

// waitFor polls until cond holds (bounded to 5 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestLoop(t *testing.T) {
	t.Run("a follower proposes nothing; once leader, the tick starts the plan", func(t *testing.T) {
		s := newFakeState("a", "b")
		run(t, s.loop(5*time.Millisecond))
		time.Sleep(50 * time.Millisecond) // ten ticks
		if _, proposed, _ := s.snapshot(); len(proposed) != 0 {
			t.Fatalf("a follower proposed %v", proposed)
		}
		s.leader.Store(true) // no change is signalled: only the tick sees it
		waitFor(t, "every step is done", func() bool { p, _, _ := s.snapshot(); return len(p) == 0 })
		_, proposed, reported := s.snapshot()
		if want := []string{"a@03:04", "b@03:04"}; !slices.Equal(proposed, want) {
			t.Errorf("proposed %v, want %v (in plan order, stamped with Now)", proposed, want)
		}
		if want := []string{"a:ok", "b:ok"}; !slices.Equal(reported, want) {
			t.Errorf("reported %v, want %v", reported, want)
		}
	})
	t.Run("a failed proposal ends the round; the next round plans again", func(t *testing.T) {
		s := newFakeState("a", "b")
		s.failNext = 1
		s.leader.Store(true)
		run(t, s.loop(5*time.Millisecond))
		waitFor(t, "every step is done", func() bool { p, _, _ := s.snapshot(); return len(p) == 0 })
		_, proposed, reported := s.snapshot()
		// "b" is not proposed after "a" failed: the round ended there.
		if want := []string{"a@03:04", "a@03:04", "b@03:04"}; !slices.Equal(proposed, want) {
			t.Errorf("proposed %v, want %v", proposed, want)
		}
		if want := []string{"a:error", "a:ok", "b:ok"}; !slices.Equal(reported, want) {
			t.Errorf("reported %v, want %v", reported, want)
		}
	})
	t.Run("a rejected command ends the round before the later steps", func(t *testing.T) {
		s := newFakeState("a", "b")
		s.rejectOn = "a"
		s.leader.Store(true)
		run(t, s.loop(5*time.Millisecond))
		waitFor(t, "three rounds", func() bool { _, p, _ := s.snapshot(); return len(p) >= 3 })
		pending, proposed, _ := s.snapshot()
		if slices.Contains(proposed, "b@03:04") || len(pending) != 2 {
			t.Errorf("proposed %v, pending %v: want only a, rejected every round", proposed, pending)
		}
	})
	t.Run("an FSM change wakes the loop without waiting for the tick", func(t *testing.T) {
		s := newFakeState()
		s.leader.Store(true)
		run(t, s.loop(time.Hour))
		time.Sleep(20 * time.Millisecond) // the first round found nothing to do
		s.mu.Lock()
		s.pending = []string{"c"}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		waitFor(t, "c is done", func() bool { _, p, _ := s.snapshot(); return strings.Join(p, ",") == "c@03:04" })
	})
}
