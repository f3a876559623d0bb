package binlog

import (
	"context"
	"fmt"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// PositionAt finds where replication from time at starts: the first
// transaction whose binlog timestamp (whole seconds, the source's clock) is
// at or after at, or end when no such transaction was written before end.
// files are the source's binlog files in order (SHOW BINARY LOGS) and end
// is its current end (SHOW MASTER STATUS). It reads the first event of
// O(log n) files to pick the file, then scans from there.
func PositionAt(ctx context.Context, cfg Config, files []string, end Position, at time.Time) (Position, error) {
	if len(files) == 0 {
		return Position{}, fmt.Errorf("the source lists no binlog files (SHOW BINARY LOGS)")
	}
	want := uint32(max(at.Unix(), 0))
	// The last file created strictly before want holds the first
	// transaction at or after it, or an earlier file's end does.
	lo, hi := 0, len(files)-1
	first, err := fileStart(ctx, cfg, files[0])
	if err != nil {
		return Position{}, err
	}
	if first >= want {
		return Position{Name: files[0], Pos: 4}, nil
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		ts, err := fileStart(ctx, cfg, files[mid])
		if err != nil {
			return Position{}, err
		}
		if ts < want {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return scanFrom(ctx, cfg, Position{Name: files[lo], Pos: 4}, end, want)
}

// fileStart is the timestamp of file's format description event: when the
// server opened the file.
func fileStart(ctx context.Context, cfg Config, file string) (uint32, error) {
	s := replication.NewBinlogSyncer(syncerConfig(cfg))
	defer s.Close()
	st, err := s.StartSync(gmysql.Position{Name: file, Pos: 4})
	if err != nil {
		return 0, classify(fmt.Errorf("open binlog file %s: %w", file, err))
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return 0, fmt.Errorf("read the first event of binlog file %s: %w", file, err)
		}
		if ev.Header.EventType == replication.FORMAT_DESCRIPTION_EVENT {
			return ev.Header.Timestamp, nil
		}
	}
}

// scanFrom reads from p until the first transaction start at or after
// want, or until end.
func scanFrom(ctx context.Context, cfg Config, p, end Position, want uint32) (Position, error) {
	if !p.Before(end) {
		return end, nil
	}
	s := replication.NewBinlogSyncer(syncerConfig(cfg))
	defer s.Close()
	st, err := s.StartSync(gmysql.Position{Name: p.Name, Pos: p.Pos})
	if err != nil {
		return Position{}, classify(fmt.Errorf("open binlog at %s: %w", p, err))
	}
	file := p.Name
	inGTID := false // a GTID event opened the transaction; its BEGIN is not a new one
	for {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		ev, err := st.GetEvent(rctx)
		cancel()
		if err != nil {
			return Position{}, fmt.Errorf("scan binlog from %s for time %d: %w", p, want, err)
		}
		h := ev.Header
		if h.EventType == replication.ROTATE_EVENT {
			if r, ok := ev.Event.(*replication.RotateEvent); ok {
				file = string(r.NextLogName)
			}
			continue
		}
		if h.LogPos == 0 {
			continue // artificial events carry no position
		}
		at := Position{Name: file, Pos: h.LogPos - h.EventSize}
		if !at.Before(end) {
			return end, nil
		}
		opens := false
		switch h.EventType {
		case replication.MARIADB_GTID_EVENT, replication.GTID_EVENT, replication.ANONYMOUS_GTID_EVENT:
			opens, inGTID = true, true
		case replication.QUERY_EVENT:
			q, _ := ev.Event.(*replication.QueryEvent)
			opens = !inGTID && (q == nil || !strings.EqualFold(strings.TrimSpace(string(q.Query)), "COMMIT"))
			inGTID = false
		case replication.XID_EVENT:
			inGTID = false
		}
		if opens && h.Timestamp >= want {
			return at, nil
		}
	}
}
