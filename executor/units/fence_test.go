package units

import (
	"context"
	"testing"

	"github.com/dmraft/dmraft/executor"
	pb "github.com/dmraft/dmraft/proto"
)

// TestUnitProposalsAreFenced: every command a unit proposes carries the
// source and epoch of the binding it runs under, so the FSM refuses it
// once the source has moved (fsm.TestFencedCommand).
func TestUnitProposalsAreFenced(t *testing.T) {
	var got []*pb.Command
	d := Deps{Propose: func(_ context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
		got = append(got, cmd)
		return &pb.ApplyResult{}, nil
	}}
	a := executor.Assignment{Source: &pb.Source{Config: &pb.SourceConfig{SourceId: "s1"}}, Epoch: 7}
	fd := fenced(d, a)
	for _, typ := range []pb.CommandType{pb.CommandType_PUT_SHARD_INFO, pb.CommandType_MARK_UNIT_FINISHED} {
		if _, err := fd.Propose(context.Background(), &pb.Command{Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range got {
		if cmd.FenceSource != "s1" || cmd.FenceEpoch != 7 {
			t.Fatalf("%v proposed with fence %q@%d, want s1@7", cmd.Type, cmd.FenceSource, cmd.FenceEpoch)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d proposals reached the node, want 2", len(got))
	}
	// No binding (epoch 0, as in tests without a cluster): not fenced.
	got = nil
	if _, err := fenced(d, executor.Assignment{Source: a.Source}).Propose(context.Background(), &pb.Command{}); err != nil {
		t.Fatal(err)
	}
	if got[0].FenceSource != "" {
		t.Fatalf("unbound assignment fenced at %q", got[0].FenceSource)
	}
}
