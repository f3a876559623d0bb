package shardlock

import (
	"context"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/leaderloop"
	pb "github.com/dmraft/dmraft/proto"
)

// DefaultTick is how often Loop re-plans when nothing changes.
const DefaultTick = 500 * time.Millisecond

// Log field keys.
const (
	keyLock   = "lock"
	keyType   = "type"
	keyCode   = "code"
	keyReason = "reason"
)

// Loop runs Plan on the leader (a leaderloop.Loop), level-triggered like
// scheduler.Loop: on every FSM change and every Tick it plans from the
// current view and proposes the commands in order. A command the FSM
// rejects (StaleRevision: another writer changed the lock) or a failed
// proposal ends the round; the next round plans again from the newer view.
// All funcs but Now must be set.
type Loop struct {
	View     func() *fsm.View
	Changed  func() <-chan struct{} // closed at the next FSM change
	Propose  func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
	IsLeader func() bool
	Now      func() time.Time // nil: time.Now
	Tick     time.Duration    // zero: DefaultTick
	Logger   zerolog.Logger
}

// Run plans and proposes until ctx is done.
func (l *Loop) Run(ctx context.Context) {
	log := l.Logger.With().Str("component", "shardlock").Logger()
	tick := l.Tick
	if tick <= 0 {
		tick = DefaultTick
	}
	loop := leaderloop.Loop[*pb.Command]{
		Changed: l.Changed, IsLeader: l.IsLeader, Propose: l.Propose, Now: l.Now, Tick: tick,
		Plan:    func(time.Time) []*pb.Command { return Plan(l.View()) },
		Command: func(cmd *pb.Command) *pb.Command { return cmd },
		Report: func(cmd *pb.Command, res *pb.ApplyResult, err error) {
			reportLockChange(log, cmd, res, err)
		},
	}
	loop.Run(ctx)
}

// reportLockChange logs how the proposal of a shard lock change ended.
func reportLockChange(log zerolog.Logger, cmd *pb.Command, res *pb.ApplyResult, err error) {
	switch {
	case err != nil:
		log.Warn().Err(err).Str(keyType, cmd.Type.String()).Msg("propose shard lock change failed; retrying next round")
	case res.GetCode() == fsm.CodeStaleRevision:
		log.Debug().Str(keyReason, res.GetMessage()).Msg("shard lock planned on a stale view; re-planning")
	case res.GetCode() != "":
		log.Warn().Str(keyType, cmd.Type.String()).Str(keyCode, res.GetCode()).Str(keyReason, res.GetMessage()).Msg("shard lock change rejected; retrying next round")
	default:
		log.Info().Str(keyType, cmd.Type.String()).Str(keyLock, strings.SplitN(describe(cmd), "\n", 2)[0]).Msg("shard lock changed")
	}
}
