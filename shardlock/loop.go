package shardlock

import (
	"context"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
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

// Loop runs Plan on the leader, level-triggered like scheduler.Loop: on
// every FSM change and every Tick it plans from the current view and
// proposes the commands in order. A command the FSM rejects (StaleRevision:
// another writer changed the lock) or a failed proposal ends the round; the
// next round plans again from the newer view. All funcs but Now must be set.
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

// round plans once and proposes the commands until one fails.
func (l *Loop) round(ctx context.Context, log zerolog.Logger) {
	for _, cmd := range Plan(l.View()) {
		if ctx.Err() != nil || !l.IsLeader() {
			return
		}
		cmd.NowUnixMs = l.now().UnixMilli()
		res, err := l.Propose(ctx, cmd)
		switch {
		case err != nil:
			log.Warn().Err(err).Str(keyType, cmd.Type.String()).Msg("propose shard lock change failed; retrying next round")
			return
		case res.GetCode() == fsm.CodeStaleRevision:
			log.Debug().Str(keyReason, res.GetMessage()).Msg("shard lock planned on a stale view; re-planning")
			return
		case res.GetCode() != "":
			log.Warn().Str(keyType, cmd.Type.String()).Str(keyCode, res.GetCode()).Str(keyReason, res.GetMessage()).Msg("shard lock change rejected; retrying next round")
			return
		}
		log.Info().Str(keyType, cmd.Type.String()).Str(keyLock, strings.SplitN(describe(cmd), "\n", 2)[0]).Msg("shard lock changed")
	}
}
