package checkpoint

import (
	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// Point is how far one worker has committed. With Row < 0 it is a
// boundary: every change of the worker in a transaction that starts before
// Pos is committed, none after. With Row >= 0, Pos is the start of the
// transaction in progress: its changes of this worker with index <= Row
// are committed too (indexes count every row of the transaction).
type Point struct {
	Pos binlog.Position
	Row int
}

// Boundary is the point at a transaction boundary.
func Boundary(p binlog.Position) Point { return Point{Pos: p, Row: -1} }

// Covers reports whether the change at (txnStart, row) is committed
// according to p.
func (p Point) Covers(txnStart binlog.Position, row int) bool {
	c := txnStart.Compare(p.Pos)
	return c < 0 || (c == 0 && p.Row >= 0 && row <= p.Row)
}

// Resume is the state a sync unit restarts from.
type Resume struct {
	Workers int     // the worker count that routed the committed changes
	Points  []Point // per worker; len == Workers
	// PendingDDL is where the last started DDL begins; it may or may not
	// have run when the replay reaches it.
	PendingDDL binlog.Position
}

// Start is where the replay starts: the lowest point of any worker.
func (r *Resume) Start() binlog.Position {
	var start binlog.Position
	for i, p := range r.Points {
		if i == 0 || p.Pos.Before(start) {
			start = p.Pos
		}
	}
	return start
}

// Max is the highest point of any worker: past it nothing is skipped.
func (r *Resume) Max() binlog.Position {
	var m binlog.Position
	for i, p := range r.Points {
		if i == 0 || m.Before(p.Pos) {
			m = p.Pos
		}
	}
	return m
}

// PassedBy reports whether a replay that has reached the transaction
// boundary end has seen every change a stored point covers, so nothing
// more can be skipped. A boundary point P covers the transactions that
// start before P: end >= P passes it. A point inside the transaction that
// starts at P (Row >= 0) also covers part of that transaction: only
// end > P passes it. (end == P is the end of the transaction before it.)
func (r *Resume) PassedBy(end binlog.Position) bool {
	for _, p := range r.Points {
		if c := end.Compare(p.Pos); c < 0 || (c == 0 && p.Row >= 0) {
			return false
		}
	}
	return true
}

// Skip reports whether worker w already committed the change at
// (txnStart, row).
func (r *Resume) Skip(w int, txnStart binlog.Position, row int) bool {
	if w >= len(r.Points) {
		return false
	}
	return r.Points[w].Covers(txnStart, row)
}

// Uniform reports whether every worker stands at the same boundary.
func (r *Resume) Uniform() bool {
	for _, p := range r.Points {
		if p.Row >= 0 || p.Pos.Compare(r.Points[0].Pos) != 0 {
			return false
		}
	}
	return true
}
