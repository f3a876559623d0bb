package scheduler

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/leaderloop"
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

// Loop runs Plan on the leader (a leaderloop.Loop). It is level-triggered:
// on every FSM change and every Tick it plans from the current view and
// proposes the commands in order. A command the FSM rejects (StaleEpoch:
// another plan won the race) or a failed proposal ends the round; the next
// round plans again from the newer view. All funcs but Now must be set.
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
	loop := leaderloop.Loop[move]{
		Changed: l.Changed, IsLeader: l.IsLeader, Propose: l.Propose, Now: l.Now, Tick: tick,
		Plan: func(now time.Time) []move {
			return planMoves(l.View(), l.Members(), now, l.Config)
		},
		Command: move.command,
		Report: func(m move, res *pb.ApplyResult, err error) {
			reportMove(log, m, res, err)
		},
	}
	loop.Run(ctx)
}

// reportMove logs how the proposal of a binding move ended.
func reportMove(log zerolog.Logger, m move, res *pb.ApplyResult, err error) {
	switch {
	case err != nil:
		log.Warn().Err(err).Str(keySource, m.Source).Str(keyTo, m.To).Msg("propose binding failed; retrying next round")
	case res.GetCode() == fsm.CodeStaleEpoch:
		log.Debug().Str(keySource, m.Source).Str(keyReason, res.GetMessage()).Msg("binding planned on a stale view; re-planning")
	case res.GetCode() != "":
		log.Warn().Str(keySource, m.Source).Str(keyTo, m.To).Str(keyCode, res.GetCode()).
			Str(keyReason, res.GetMessage()).Msg("binding rejected; retrying next round")
	default:
		log.Info().Str(keySource, m.Source).Str(keyFrom, m.From).Str(keyTo, m.To).
			Uint64(keyEpoch, m.Epoch).Str(keyReason, m.Reason).Msg("source bound")
	}
}
