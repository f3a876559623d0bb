package syncsuite

import (
	"strings"
	"testing"
	"time"
)

// TestRestartSourceAndTarget: the source server restarts mid-stream, then
// the target server does; the subtask retries each time (no error is
// reported) and the target converges.
func TestRestartSourceAndTarget(t *testing.T) {
	c, up, down, w, _ := startStreaming(t, "rs1")
	w.strict = false // statements fail while the source is down

	t.Log("restarting the source")
	up.Restart(t)
	var file string
	var pos uint32
	var a, b any
	if err := up.DB(t).QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b); err != nil {
		t.Fatal(err)
	}
	// The restart rotated the binlog: the sync unit reads the new file.
	waitStatus(t, c, "rs1", 60*time.Second, "the sync unit to read "+file+" after the source restart", false, func(s subtask) bool {
		p, ok := s.sync()
		return ok && strings.Contains(p.SyncerBinlog, file)
	})
	t.Log("restarting the target")
	before, _ := status(c, "rs1")
	rows0, _ := before.sync()
	down.Restart(t)
	waitStatus(t, c, "rs1", 60*time.Second, "the sync unit to apply rows after the target restart", false, func(s subtask) bool {
		p, ok := s.sync()
		return ok && p.TotalRows > rows0.TotalRows+100
	})
	w.waitRounds(10, 60*time.Second)
	w.halt()
	converge(t, c, "rs1", up, down, "app", 90*time.Second)
	st, err := status(c, "rs1")
	if err != nil || st.Stage != "Running" || len(st.Errors()) > 0 {
		t.Errorf("after the restarts: %+v %v", st, err)
	}
	if w.errs.Load() == 0 {
		t.Errorf("no workload statement failed: was the source really restarted mid-stream?")
	}
}
