package leaderloop

import (
	"context"
	"time"

	pb "github.com/dmraft/dmraft/proto"
)

// Loop plans steps of type S and proposes one command per step. A failed
// proposal or a command the FSM rejects (a non-empty result code, e.g. a
// plan made from a stale view) ends the round; the next round plans again
// from the newer state. All funcs but Now must be set.
type Loop[S any] struct {
	Changed  func() <-chan struct{} // closed at the next FSM change
	IsLeader func() bool
	Propose  func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
	Now      func() time.Time // nil: time.Now
	Tick     time.Duration    // how often to re-plan when nothing changes; must be > 0

	// Plan returns one round's steps, in order, from the current FSM view.
	Plan func(now time.Time) []S
	// Command returns the command of a step; the loop sets its NowUnixMs.
	Command func(step S) *pb.Command
	// Report is told how each proposal ended (err, or the FSM's result), to
	// log it. It decides nothing: the loop ends the round on any failure.
	Report func(step S, res *pb.ApplyResult, err error)
}

// Run plans and proposes while this node is the leader, until ctx is done.
func (l *Loop[S]) Run(ctx context.Context) {
	ticker := time.NewTicker(l.Tick)
	defer ticker.Stop()
	for ctx.Err() == nil {
		changed := l.Changed() // before reading the view: no change is missed
		if l.IsLeader() {
			l.round(ctx)
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-ticker.C:
		}
	}
}

func (l *Loop[S]) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// round plans once and proposes the steps until one fails or this node
// stops being the leader.
func (l *Loop[S]) round(ctx context.Context) {
	for _, step := range l.Plan(l.now()) {
		if ctx.Err() != nil || !l.IsLeader() {
			return
		}
		cmd := l.Command(step)
		cmd.NowUnixMs = l.now().UnixMilli()
		res, err := l.Propose(ctx, cmd)
		l.Report(step, res, err)
		if err != nil || res.GetCode() != "" {
			return
		}
	}
}
