package syncer

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// progress is what query-status shows for the sync unit, in DM's shape.
type progress struct {
	now func() time.Time

	mu          sync.Mutex
	master      binlog.Position
	masterErr   string
	clockOffset time.Duration                          // the source's clock minus ours
	workers     func() (binlog.Position, uint32, bool) // committed low-water mark, the source time of the oldest uncommitted change (0: none), idle
	totalRows   int64
	totalEvents int64
	samples     []sample // committed rows over the last rateWindow
	blocking    []string
	stage       string
	started     time.Time
}

type sample struct {
	at   time.Time
	rows int64
}

const rateWindow = 10 * time.Second

func newProgress(now func() time.Time) *progress {
	return &progress{now: now, started: now(), stage: "starting"}
}

func (p *progress) addRows(n int64) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.totalRows += n
	now := p.now()
	p.samples = append(p.samples, sample{at: now, rows: n})
	for len(p.samples) > 0 && now.Sub(p.samples[0].at) > rateWindow {
		p.samples = p.samples[1:]
	}
}

func (p *progress) addEvents(n int64) {
	p.mu.Lock()
	p.totalEvents += n
	p.mu.Unlock()
}

func (p *progress) setMaster(pos binlog.Position, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.masterErr = err.Error()
		return
	}
	p.master, p.masterErr = pos, ""
}

// setClockOffset records how far the source's clock is ahead of ours, so
// that the lag computed from binlog event times does not include the skew.
func (p *progress) setClockOffset(d time.Duration) {
	p.mu.Lock()
	p.clockOffset = d
	p.mu.Unlock()
}

func (p *progress) setBlocking(ddl []string) {
	p.mu.Lock()
	p.blocking = ddl
	p.mu.Unlock()
}

func (p *progress) setStage(s string) {
	p.mu.Lock()
	p.stage = s
	p.mu.Unlock()
}

func (p *progress) setWorkers(f func() (binlog.Position, uint32, bool)) {
	p.mu.Lock()
	p.workers = f
	p.mu.Unlock()
}

// status is the JSON object; field names follow DM's SyncStatus.
type status struct {
	Stage               string   `json:"stage"`
	TotalEvents         int64    `json:"totalEvents"`
	TotalRows           int64    `json:"totalRows"`
	TotalRps            int64    `json:"totalRps"`
	RecentRps           int64    `json:"recentRps"`
	MasterBinlog        string   `json:"masterBinlog"`
	MasterBinlogGtid    string   `json:"masterBinlogGtid"`
	SyncerBinlog        string   `json:"syncerBinlog"`
	SyncerBinlogGtid    string   `json:"syncerBinlogGtid"`
	BlockingDDLs        []string `json:"blockingDDLs"`
	Synced              bool     `json:"synced"`
	BinlogType          string   `json:"binlogType"`
	SecondsBehindMaster int64    `json:"secondsBehindMaster"`
	MasterError         string   `json:"masterError,omitempty"`
}

// JSON renders the status.
func (p *progress) JSON() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	s := status{Stage: p.stage, TotalEvents: p.totalEvents, TotalRows: p.totalRows, BlockingDDLs: p.blocking, BinlogType: "remote",
		MasterError: p.masterErr}
	if s.BlockingDDLs == nil {
		s.BlockingDDLs = []string{}
	}
	if el := now.Sub(p.started).Seconds(); el > 0 {
		s.TotalRps = int64(float64(p.totalRows) / el)
	}
	var recent int64
	for _, x := range p.samples {
		if now.Sub(x.at) <= rateWindow {
			recent += x.rows
		}
	}
	s.RecentRps = recent / int64(rateWindow/time.Second)
	if !p.master.IsZero() {
		s.MasterBinlog = posText(p.master)
		s.MasterBinlogGtid = p.master.GTID
	}
	if p.workers != nil {
		low, ts, idle := p.workers()
		if !low.IsZero() {
			s.SyncerBinlog = posText(low)
			s.SyncerBinlogGtid = low.GTID
		}
		s.Synced = idle && !p.master.IsZero() && low.Compare(p.master) >= 0
		if !s.Synced && ts > 0 {
			s.SecondsBehindMaster = max(0, now.Add(p.clockOffset).Unix()-int64(ts))
		}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func posText(p binlog.Position) string {
	b, _ := json.Marshal([]any{p.Name, p.Pos})
	return "(" + string(b[1:len(b)-1]) + ")"
}
