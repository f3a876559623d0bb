package fsm

import (
	"testing"

	pb "github.com/dmraft/dmraft/proto"
)

// TestEpochSurvivesSourceRemoval: a source removed and created again under
// the same id continues from its last epoch, so the target's fencing token
// (which outlives the source in the FSM) never sees an epoch reused.
func TestEpochSurvivesSourceRemoval(t *testing.T) {
	h := newHarness(t)
	h.registerNode("n1")
	h.createSource("s1")
	h.bind("s1", "n1")
	h.bind("s1", "n1")
	if e := h.epoch("s1"); e != 2 {
		t.Fatalf("epoch after two bindings = %d, want 2", e)
	}
	h.must(pb.CommandType_REMOVE_SOURCE, &pb.RemoveSource{SourceId: "s1"})
	if got := h.f.View().RetiredEpochs["s1"]; got != 2 {
		t.Fatalf("retired epoch = %d, want 2", got)
	}
	h.createSource("s1")
	if got := h.f.View().Sources["s1"].Epoch; got != 2 {
		t.Fatalf("re-created source starts at epoch %d, want 2", got)
	}
	if _, kept := h.f.View().RetiredEpochs["s1"]; kept {
		t.Fatal("the retired epoch must move back into the source")
	}
	res := h.apply(pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s1", Node: "n1", Epoch: 1})
	if res.Code != CodeStaleEpoch {
		t.Fatalf("binding the re-created source at a used epoch: %v, want %s", res, CodeStaleEpoch)
	}
	h.bind("s1", "n1")
	if e := h.epoch("s1"); e != 3 {
		t.Fatalf("epoch after re-creation and binding = %d, want 3", e)
	}
	roundTrip(t, h.f)
}
