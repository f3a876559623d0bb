package main

import (
	"strings"
	"testing"

	pb "github.com/dmraft/dmraft/proto"
)

func TestBar(t *testing.T) {
	cases := []struct {
		done, total int64
		want        string
	}{
		{0, 100, "[..........]   0.0%"},
		{45, 100, "[####......]  45.0%"},
		{100, 100, "[##########] 100.0%"},
		{150, 100, "[##########] 100.0%"},
		{5, 0, "[          ]   ?  "},
	}
	for _, c := range cases {
		if got := bar(c.done, c.total, 10); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
}

func TestWatchLineAndSettled(t *testing.T) {
	load := &pb.SubtaskStatus{SourceId: "s1", DesiredStage: "Running", Runner: &pb.RunnerStatus{Stage: "Running", Unit: "load",
		ProgressJson: `{"totalTables":4,"completedTables":1,"finishedBytes":50,"totalBytes":200,"finishedRows":10,"totalRows":40,"bps":2000000,"rps":500}`}}
	if got := watchLine(load); !strings.Contains(got, "25.0%") || !strings.Contains(got, "tables 1/4") || !strings.Contains(got, "2.0 MB/s") {
		t.Fatalf("load line: %q", got)
	}
	sync := &pb.SubtaskStatus{SourceId: "s1", DesiredStage: "Running", Runner: &pb.RunnerStatus{Stage: "Running", Unit: "sync",
		ProgressJson: `{"synced":true,"secondsBehindMaster":0,"recentRps":12,"syncerBinlog":"(b.1, 4)","masterBinlog":"(b.1, 4)"}`}}
	if got := watchLine(sync); !strings.Contains(got, "synced") {
		t.Fatalf("sync line: %q", got)
	}
	failed := &pb.SubtaskStatus{SourceId: "s1", LastError: &pb.SubtaskError{Message: "boom"}}
	if got := watchLine(failed); !strings.Contains(got, "error: boom") {
		t.Fatalf("error line: %q", got)
	}
	if settled(&pb.TaskStatus{Subtasks: []*pb.SubtaskStatus{load}}) {
		t.Fatal("a running load is not settled")
	}
	if !settled(&pb.TaskStatus{Subtasks: []*pb.SubtaskStatus{sync, failed}}) {
		t.Fatal("a synced and a failed subtask leave nothing to watch")
	}
}
