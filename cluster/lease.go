package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// Lease says whether this node may run work: a follower holds it while it
// has had a successful renewal from the leader within FenceTimeout, the
// leader while it keeps verifying its leadership.
//
// The lease is extended only by a renewal whose request was sent at a time
// `sent` read from this process's monotonic clock before the request left,
// to exactly sent + FenceTimeout. Nothing else ever extends it.
//
// Why that fences (the full argument is in DESIGN.md): the leader moves a
// node's sources only RebindAfter (> FenceTimeout + margin) after that node's
// LastSeen. LastSeen is the receipt time of its latest renewal, recorded
// before the grant is answered, so >= sent; or the moment the leader took
// over, which is after every grant of an earlier leader (those needed a
// quorum to acknowledge the old term after sent, and one of that quorum then
// voted for the new leader). Either way sent + FenceTimeout comes before the
// rebind. The margin covers clock rate drift and an in-flight heartbeat
// counted by raft's VerifyLeader. A paused process is not covered by any
// lease: that is the epoch token's job.
type Lease struct {
	mu      sync.Mutex
	expiry  time.Time // zero: no lease; carries a monotonic reading
	changed chan struct{}
	timer   *time.Timer
	closed  bool
	log     zerolog.Logger
}

func newLease(log zerolog.Logger) *Lease { return &Lease{changed: make(chan struct{}), log: log} }

// Valid reports whether the lease holds at now, which must come from
// time.Now() so that the comparison uses the monotonic clock.
func (l *Lease) Valid(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return now.Before(l.expiry)
}

// Expiry returns when the lease lapses; zero if there is none.
func (l *Lease) Expiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expiry
}

// Changed returns a channel closed at the next renewal, lapse or
// invalidation. Readers then call Valid again (level-triggered).
func (l *Lease) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// extend moves the expiry to sent+fence if that is later. It returns false
// if nothing changed.
func (l *Lease) extend(sent time.Time, fence time.Duration) bool {
	expiry := sent.Add(fence)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !expiry.After(l.expiry) || !time.Now().Before(expiry) {
		return false
	}
	l.expiry = expiry
	if l.timer != nil {
		l.timer.Stop()
	}
	// Fire Changed at the moment the lease lapses. The callback checks the
	// expiry again: a renewal may have moved it meanwhile.
	l.timer = time.AfterFunc(time.Until(expiry), func() { l.lapse(expiry) })
	l.notifyLocked()
	return true
}

// lapse fires Changed when the lease with expiry e has run out.
func (l *Lease) lapse(e time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expiry.Equal(e) {
		l.log.Warn().Msg("lease lapsed: no renewal from the leader within the fence timeout")
		l.notifyLocked()
	}
}

// invalidate drops the lease at once (lost leadership, shutdown).
func (l *Lease) invalidate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if !l.expiry.IsZero() {
		if time.Now().Before(l.expiry) {
			l.log.Info().Msg("lease dropped")
		}
		l.expiry = time.Time{}
		l.notifyLocked()
	}
}

// close invalidates the lease for good.
func (l *Lease) close() {
	l.invalidate()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

func (l *Lease) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Lease returns this node's fencing lease.
func (n *Node) Lease() *Lease { return n.lease }

// maxRenewalsInFlight bounds the concurrent renewal attempts of a follower;
// a slow attempt does not hold back the next one.
const maxRenewalsInFlight = 3

// leaseLoop renews the lease every FenceTimeout/4 (and at once when
// leadership changes).
func (n *Node) leaseLoop(ctx context.Context) {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.FenceTimeout / 4)
	defer tick.Stop()
	var inFlight atomic.Int32
	for {
		if inFlight.Load() < maxRenewalsInFlight {
			inFlight.Add(1)
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				defer inFlight.Add(-1)
				n.renewLease(ctx)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.leaseKick:
		}
	}
}

// renewLease makes one renewal attempt. Any failure just leaves the lease
// to lapse by itself.
func (n *Node) renewLease(ctx context.Context) {
	leading, gen := n.raft.State() == raft.Leader, n.leaderGeneration()
	sent := time.Now() // before anything is asked: the lease counts from here
	ctx, cancel := context.WithDeadline(ctx, sent.Add(n.cfg.FenceTimeout))
	defer cancel()
	log := n.leaseLog

	if leading {
		// VerifyLeader fails unless this node was leader, with a quorum
		// acknowledging it, after sent.
		readIdx, err := n.VerifyLeader(ctx)
		if err == nil {
			err = n.fsm.WaitIndex(ctx, readIdx)
		}
		if err != nil {
			log.Debug().Err(err).Msg("leader lease not renewed")
			return
		}
		// A loss of leadership since sent has invalidated the lease; do
		// not bring it back on the strength of the older verification.
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.leaderGen == gen && n.leaderReady {
			n.extendLease(sent)
		}
		return
	}

	if n.cfg.RenewLease == nil {
		return
	}
	leaderName, leaderAddr := n.Leader()
	if leaderAddr == "" || leaderName == n.cfg.Name {
		return
	}
	readIdx, err := n.cfg.RenewLease(ctx, leaderAddr)
	if err == nil {
		// The local view must be at least as fresh as the leader's when it
		// granted the lease: everything committed before sent is applied.
		err = n.fsm.WaitIndex(ctx, readIdx)
	}
	if err != nil {
		log.Debug().Err(err).Str(logLeader, leaderName).Msg("lease not renewed")
		return
	}
	n.extendLease(sent)
}

func (n *Node) extendLease(sent time.Time) {
	wasValid := n.lease.Valid(time.Now())
	if n.lease.extend(sent, n.cfg.FenceTimeout) && !wasValid {
		n.leaseLog.Info().Time("expiry", sent.Add(n.cfg.FenceTimeout)).Msg("lease acquired")
	}
}
