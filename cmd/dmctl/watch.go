package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	pb "github.com/dmraft/dmraft/proto"
)

// unitProgress is the part of a unit's progress JSON that --watch shows:
// the full phase's totals (dump/load) or the sync unit's position and lag.
type unitProgress struct {
	TotalTables     int64  `json:"totalTables"`
	CompletedTables int64  `json:"completedTables"`
	FinishedBytes   int64  `json:"finishedBytes"`
	TotalBytes      int64  `json:"totalBytes"`
	FinishedRows    int64  `json:"finishedRows"`
	TotalRows       int64  `json:"totalRows"`
	Bps             int64  `json:"bps"`
	Rps             int64  `json:"rps"`
	Synced          *bool  `json:"synced"`
	SyncerBinlog    string `json:"syncerBinlog"`
	MasterBinlog    string `json:"masterBinlog"`
	RecentRps       int64  `json:"recentRps"`
	Behind          int64  `json:"secondsBehindMaster"`
}

// bar renders done/total as a fixed-width progress bar with a percentage.
func bar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]   ?  "
	}
	if done > total {
		done = total
	}
	filled := int(done * int64(width) / total)
	return fmt.Sprintf("[%s%s] %5.1f%%", strings.Repeat("#", filled), strings.Repeat(".", width-filled), float64(done)*100/float64(total))
}

// watchLine describes one subtask's live progress on one line.
func watchLine(st *pb.SubtaskStatus) string {
	stage, unit, detail := liveStage(st)
	head := fmt.Sprintf("%-16s %-9s %-5s", st.SourceId, stage, orDash(unit))
	if st.LastError != nil {
		return head + "  error: " + st.LastError.Message
	}
	if st.Runner == nil || st.Runner.ProgressJson == "" {
		return head + "  " + detail
	}
	var p unitProgress
	if err := json.Unmarshal([]byte(st.Runner.ProgressJson), &p); err != nil {
		return head + "  " + detail
	}
	if p.Synced != nil {
		state := "catching up"
		if *p.Synced {
			state = "synced"
		}
		return fmt.Sprintf("%s  %s, %ds behind, %d rows/s, at %s of %s", head, state, p.Behind, p.RecentRps, p.SyncerBinlog, p.MasterBinlog)
	}
	return fmt.Sprintf("%s  %s  tables %d/%d  rows %d/%d  %.1f MB/s  %d rows/s", head, bar(p.FinishedBytes, p.TotalBytes, 30),
		p.CompletedTables, p.TotalTables, p.FinishedRows, p.TotalRows, float64(p.Bps)/1e6, p.Rps)
}

// settled reports whether nothing will change without the user: every
// subtask finished, paused or stopped by an error.
func settled(t *pb.TaskStatus) bool {
	for _, st := range t.Subtasks {
		stage, unit, _ := liveStage(st)
		if st.LastError == nil && stage != "Finished" && stage != "Paused" && !(unit == "sync" && syncedNow(st)) {
			return false
		}
	}
	return len(t.Subtasks) > 0
}

func syncedNow(st *pb.SubtaskStatus) bool {
	var p unitProgress
	return st.Runner != nil && json.Unmarshal([]byte(st.Runner.ProgressJson), &p) == nil && p.Synced != nil && *p.Synced
}

// printWatch prints one refresh of --watch.
func printWatch(t *pb.TaskStatus, now time.Time) {
	fmt.Printf("%s  task %s (mode %s, revision %d)\n", now.Format("15:04:05"), t.Name, t.TaskMode, t.Revision)
	for _, st := range t.Subtasks {
		fmt.Println("  " + watchLine(st))
	}
}
