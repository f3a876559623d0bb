package scheduler

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// DefaultTick is how often Loop re-plans when nothing changes.
const DefaultTick = 250 * time.Millisecond

// Log field keys.
const (
	keySource = "source"
	keyFrom   = "from"
	keyTo     = "to"
	keyEpoch  = "epoch"
	keyReason = "reason"
	keyCode   = "code"
)

// Loop runs Plan on the leader. It is level-triggered: on every FSM change
// and every Tick it plans from the current view and proposes the commands in
// order. A command the FSM rejects (StaleEpoch: another plan won the race)
// or a failed proposal ends the round; the next round plans again from the
// newer view. All funcs but Now must be set.
type Loop struct {
	View     func() *fsm.View
	Changed  func() <-chan struct{} // closed at the next FSM change
	Members  func() []Member
	Propose  func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
	IsLeader func() bool
	Now      func() time.Time // nil: time.Now
	Config   Config
	Tick     time.Duration // zero: DefaultTick
	Logger   zerolog.Logger
}

// Run plans and proposes until ctx is done.
func (l *Loop) Run(ctx context.Context) {
	log := l.Logger.With().Str("component", "scheduler").Logger()
	tick := l.Tick
	if tick <= 0 {
		tick = DefaultTick
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for ctx.Err() == nil {
		changed := l.Changed() // before reading the view: no change is missed
		if l.IsLeader() {
			l.round(ctx, log)
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-ticker.C:
		}
	}
}

func (l *Loop) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// round plans once and proposes the moves until one fails.
func (l *Loop) round(ctx context.Context, log zerolog.Logger) {
	for _, m := range planMoves(l.View(), l.Members(), l.now(), l.Config) {
		if ctx.Err() != nil || !l.IsLeader() {
			return
		}
		cmd := m.command()
		cmd.NowUnixMs = l.now().UnixMilli()
		res, err := l.Propose(ctx, cmd)
		switch {
		case err != nil:
			log.Warn().Err(err).Str(keySource, m.Source).Str(keyTo, m.To).Msg("propose binding failed; retrying next round")
			return
		case res.GetCode() == fsm.CodeStaleEpoch:
			log.Debug().Str(keySource, m.Source).Str(keyReason, res.GetMessage()).Msg("binding planned on a stale view; re-planning")
			return
		case res.GetCode() != "":
			log.Warn().Str(keySource, m.Source).Str(keyTo, m.To).Str(keyCode, res.GetCode()).
				Str(keyReason, res.GetMessage()).Msg("binding rejected; retrying next round")
			return
		}
		log.Info().Str(keySource, m.Source).Str(keyFrom, m.From).Str(keyTo, m.To).
			Uint64(keyEpoch, m.Epoch).Str(keyReason, m.Reason).Msg("source bound")
	}
}
