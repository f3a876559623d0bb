package syncer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// TestLagExcludesClockSkew: secondsBehindMaster is the age of the oldest
// uncommitted change by the source's clock, so a source clock 30 s ahead of
// ours does not show as 30 s of lag.
func TestLagExcludesClockSkew(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p := newProgress(func() time.Time { return now })
	p.setMaster(binlog.Position{Name: "bin.000002", Pos: 900}, nil)
	eventTime := uint32(now.Unix() + 30 - 4) // written 4 s ago by a clock 30 s ahead
	p.setWorkers(func() (binlog.Position, uint32, bool) {
		return binlog.Position{Name: "bin.000002", Pos: 400}, eventTime, false
	})
	lag := func() int64 {
		var s status
		if err := json.Unmarshal([]byte(p.JSON()), &s); err != nil {
			t.Fatal(err)
		}
		return s.SecondsBehindMaster
	}
	if got := lag(); got != 0 {
		t.Errorf("without the offset (event time in our future): lag %d, want 0", got)
	}
	p.setClockOffset(30 * time.Second)
	if got := lag(); got != 4 {
		t.Errorf("with the source 30 s ahead: lag %d, want 4", got)
	}
}
