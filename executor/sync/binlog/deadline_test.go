package binlog

import (
	"net"
	"testing"
	"time"
)

type deadlineRecorder struct {
	net.Conn
	set []time.Time
}

func (r *deadlineRecorder) SetReadDeadline(t time.Time) error {
	r.set = append(r.set, t)
	return nil
}

func TestLazyDeadlineConn(t *testing.T) {
	rec := &deadlineRecorder{}
	c := &lazyDeadlineConn{Conn: rec}
	t0 := time.Now()
	steps := []struct {
		at      time.Time
		applied bool
	}{
		{t0.Add(10 * time.Second), true},                       // first deadline
		{t0.Add(10*time.Second + 300*time.Millisecond), false}, // within the slack: kept
		{t0.Add(10*time.Second + 999*time.Millisecond), false},
		{t0.Add(11 * time.Second), true},       // a second later: moved
		{t0.Add(100 * time.Millisecond), true}, // earlier (Close): at once
		{time.Time{}, true},                    // none
		{t0.Add(20 * time.Second), true},
	}
	for i, s := range steps {
		before := len(rec.set)
		if err := c.SetReadDeadline(s.at); err != nil {
			t.Fatal(err)
		}
		if applied := len(rec.set) > before; applied != s.applied {
			t.Fatalf("step %d (%v): applied %v, want %v", i, s.at.Sub(t0), applied, s.applied)
		}
		if s.applied && !rec.set[len(rec.set)-1].Equal(s.at) {
			t.Fatalf("step %d: set %v", i, rec.set[len(rec.set)-1])
		}
	}
}
