package jepsen

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	pb "github.com/dmraft/dmraft/proto"
)

// statusOnly answers QueryStatus with fixed subtasks.
type statusOnly struct {
	pb.AdminClient
	subtasks []*pb.SubtaskStatus
}

func (s statusOnly) QueryStatus(context.Context, *pb.QueryStatusRequest, ...grpc.CallOption) (*pb.QueryStatusResponse, error) {
	return &pb.QueryStatusResponse{Tasks: []*pb.TaskStatus{{Name: "t", Revision: 7, Subtasks: s.subtasks}}}, nil
}

// TestStatusReadLeavesOutErrorPauses: a subtask paused by its own unit
// error says nothing about the task's stage; a pause of one subtask
// without an error is mixed (the model rejects it).
func TestStatusReadLeavesOutErrorPauses(t *testing.T) {
	sub := func(stage string, errCode string) *pb.SubtaskStatus {
		st := &pb.SubtaskStatus{SourceId: "s", DesiredStage: stage}
		if errCode != "" {
			st.LastError = &pb.SubtaskError{Code: errCode}
		}
		return st
	}
	cases := []struct {
		name     string
		subtasks []*pb.SubtaskStatus
		want     adminResult
	}{
		{"all running", []*pb.SubtaskStatus{sub("Running", ""), sub("Running", "")}, adminResult{OK: true, Revision: 7}},
		{"all paused", []*pb.SubtaskStatus{sub("Paused", ""), sub("Paused", "")}, adminResult{OK: true, Revision: 7, Paused: true}},
		{"one paused by its error", []*pb.SubtaskStatus{sub("Paused", "TargetWriteFailed"), sub("Running", "")}, adminResult{OK: true, Revision: 7}},
		{"error pause first, others paused", []*pb.SubtaskStatus{sub("Paused", "X"), sub("Paused", "")}, adminResult{OK: true, Revision: 7, Paused: true}},
		{"one paused without an error", []*pb.SubtaskStatus{sub("Running", ""), sub("Paused", "")}, adminResult{OK: true, Revision: 7, Mixed: true}},
		{"every subtask paused by errors", []*pb.SubtaskStatus{sub("Paused", "X"), sub("Paused", "Y")}, adminResult{Unknown: true, Revision: 7}},
	}
	for _, c := range cases {
		w := &adminWorkload{}
		got := w.status(context.Background(), statusOnly{subtasks: c.subtasks}, "t")
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	w := &adminWorkload{}
	w.status(context.Background(), statusOnly{subtasks: []*pb.SubtaskStatus{sub("Paused", "X"), sub("Running", "")}}, "t")
	if w.errorPauses["X"] != 1 {
		t.Errorf("error pauses counted: %v", w.errorPauses)
	}
}
