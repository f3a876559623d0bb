package units

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/load"
)

// progress is the live state query-status shows, in DM's shape.
type progress struct {
	now func() time.Time

	mu          sync.Mutex
	start       time.Time
	tablesLeft  map[string]int // chunks not done per table
	tables      int
	estRows     int64
	estBytes    int64
	doneRows    int64 // including chunks done by earlier runs
	doneBytes   int64
	runRows     int64 // this run only, for the rates
	runBytes    int64
	first, last dump.Position
	done        bool
	stage       string
}

func (p *progress) setStage(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage = s
}

func newProgress(now func() time.Time) *progress {
	return &progress{now: now, start: now(), tablesLeft: map[string]int{}}
}

func (p *progress) addChunk(r *load.ChunkRecord) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.tablesLeft[r.Table]; !seen {
		p.tables++
		p.tablesLeft[r.Table] = 0
	}
	if r.Done {
		p.doneRows += r.Rows
		p.doneBytes += r.Bytes
		p.estRows += r.Rows
		p.estBytes += r.Bytes
		return
	}
	p.tablesLeft[r.Table]++
	p.estRows += r.EstRows
	p.estBytes += r.EstBytes
}

func (p *progress) setPositions(first, last dump.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.first, p.last = first, last
}

func (p *progress) chunkDone(table string, _ int, rows, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tablesLeft[table]--
	p.doneRows += rows
	p.doneBytes += bytes
	p.runRows += rows
	p.runBytes += bytes
}

func (p *progress) finished() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
}

// LoadProgress is the unit's query-status detail (DM's dump and load
// status fields together; sizes are estimates until the end).
type LoadProgress struct {
	TotalTables     int64   `json:"totalTables"`
	CompletedTables int64   `json:"completedTables"`
	FinishedBytes   int64   `json:"finishedBytes"`
	TotalBytes      int64   `json:"totalBytes"`
	FinishedRows    int64   `json:"finishedRows"`
	TotalRows       int64   `json:"totalRows"`
	Progress        string  `json:"progress"`
	Bps             int64   `json:"bps"`
	Rps             int64   `json:"rps"`
	MetaBinlog      string  `json:"metaBinlog,omitempty"`
	MetaBinlogGTID  string  `json:"metaBinlogGTID,omitempty"`
	LastBinlog      string  `json:"lastSnapshotBinlog,omitempty"`
	ElapsedSeconds  float64 `json:"elapsedSeconds"`
	Stage           string  `json:"stage,omitempty"`
}

// JSON renders the progress.
func (p *progress) JSON() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lp := LoadProgress{TotalTables: int64(p.tables), FinishedBytes: p.doneBytes, FinishedRows: p.doneRows, Stage: p.stage}
	for _, left := range p.tablesLeft {
		if left <= 0 {
			lp.CompletedTables++
		}
	}
	lp.TotalRows, lp.TotalBytes = max(p.estRows, p.doneRows), max(p.estBytes, p.doneBytes)
	pct := 0.0
	if lp.TotalRows > 0 {
		pct = min(99.99, 100*float64(p.doneRows)/float64(lp.TotalRows))
	}
	if p.done {
		pct, lp.TotalRows, lp.TotalBytes = 100, p.doneRows, p.doneBytes
	}
	lp.Progress = fmt.Sprintf("%.2f %%", pct)
	el := p.now().Sub(p.start).Seconds()
	lp.ElapsedSeconds = float64(int64(el*10)) / 10
	if el > 0 {
		lp.Bps, lp.Rps = int64(float64(p.runBytes)/el), int64(float64(p.runRows)/el)
	}
	if p.first.Name != "" {
		lp.MetaBinlog = fmt.Sprintf("(%s, %d)", p.first.Name, p.first.Pos)
		lp.MetaBinlogGTID = p.first.GTID
		lp.LastBinlog = fmt.Sprintf("(%s, %d)", p.last.Name, p.last.Pos)
	}
	b, _ := json.Marshal(lp)
	return string(b)
}
