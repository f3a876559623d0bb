package fsm

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// applyCmd applies a prepared command envelope at the next index.
func (h *harness) applyCmd(cmd *pb.Command) *pb.ApplyResult {
	h.t.Helper()
	h.index++
	cmd.NowUnixMs = nowAt(h.index)
	return h.f.Apply(h.index, Encode(cmd))
}

func tbInfo(ddls ...string) *pb.ShardInfo {
	return &pb.ShardInfo{Task: "t1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb", Ddls: ddls, LockId: "L1"}
}

var tbKey = ShardInfoKey("t1", "s1", "shard", "tb")

// TestConditionalShardInfo: a put or remove computed from a view that has
// moved on is refused and changes nothing. This is what stops a shard DDL
// report delivered late (after the table's DDL was handled and marked
// done) from making the table wait again for a DDL it already passed.
func TestConditionalShardInfo(t *testing.T) {
	h := newHarness(t)
	h.cluster()
	first := h.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: tbInfo(), IfUnchanged: true}).Index

	// Two puts computed from the same read: the first wins, the second is refused.
	report := &pb.PutShardInfo{Info: tbInfo("ALTER TABLE tb ADD c10 INT"), IfUnchanged: true, ExpectUpdatedIndex: first}
	reported := h.must(pb.CommandType_PUT_SHARD_INFO, report).Index
	done := h.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: tbInfo(), IfUnchanged: true, ExpectUpdatedIndex: reported}).Index
	before := copyView(h.f.View())
	res := h.apply(pb.CommandType_PUT_SHARD_INFO, report) // the report again, late
	if res.Code != CodeShardInfoChanged {
		t.Fatalf("late report: %v, want %s", res, CodeShardInfoChanged)
	}
	if got := h.f.View().ShardInfos[tbKey]; len(got.Ddls) != 0 || got.UpdatedIndex != done {
		t.Fatalf("after the refused late report the info is %v, want the done one put at %d", got, done)
	}
	want := copyView(before)
	want.Index = h.f.View().Index
	requireViewsEqual(t, want, h.f.View())

	// Expecting no info where one is stored is refused too.
	if res := h.apply(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: tbInfo(), IfUnchanged: true}); res.Code != CodeShardInfoChanged {
		t.Fatalf("put expecting no info over a stored one: %v, want %s", res, CodeShardInfoChanged)
	}
	// An unconditional put (commands of older logs) still replaces.
	h.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: tbInfo("x")})
	current := h.f.View().ShardInfos[tbKey].UpdatedIndex

	// Remove: refused when stale, done when current.
	rm := &pb.RemoveShardInfo{Task: "t1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb", IfUnchanged: true, ExpectUpdatedIndex: done}
	if res := h.apply(pb.CommandType_REMOVE_SHARD_INFO, rm); res.Code != CodeShardInfoChanged {
		t.Fatalf("stale remove: %v, want %s", res, CodeShardInfoChanged)
	}
	rm = proto.Clone(rm).(*pb.RemoveShardInfo)
	rm.ExpectUpdatedIndex = current
	h.must(pb.CommandType_REMOVE_SHARD_INFO, rm)
	if _, found := h.f.View().ShardInfos[tbKey]; found {
		t.Fatal("the remove with the current index did not remove the info")
	}
	roundTrip(t, h.f)
}

// TestFencedCommand: a command proposed on behalf of a source's binding is
// applied only while the source is bound at that epoch.
func TestFencedCommand(t *testing.T) {
	h := newHarness(t)
	h.cluster()
	epoch := h.epoch("s1")
	fenced := func(e uint64, source string, info *pb.ShardInfo) *pb.Command {
		cmd := NewCommand(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: info}, 0)
		cmd.FenceSource, cmd.FenceEpoch = source, e
		return cmd
	}
	if res := h.applyCmd(fenced(epoch, "s1", tbInfo("a"))); res.Code != "" {
		t.Fatalf("fenced at the current epoch: %v", res)
	}
	h.bind("s1", "n2") // the source moves
	before := copyView(h.f.View())
	for _, c := range []struct {
		name string
		cmd  *pb.Command
	}{
		{"previous epoch", fenced(epoch, "s1", tbInfo("b"))},
		{"a later epoch than the binding", fenced(epoch+5, "s1", tbInfo("b"))},
		{"an unbound source", fenced(1, "s3", tbInfo("b"))},
	} {
		res := h.applyCmd(c.cmd)
		if res.Code != CodeStaleEpoch {
			t.Fatalf("%s: %v, want %s", c.name, res, CodeStaleEpoch)
		}
		want := copyView(before)
		want.Index = h.f.View().Index
		requireViewsEqual(t, want, h.f.View())
	}
	if res := h.applyCmd(fenced(epoch+1, "s1", tbInfo("c"))); res.Code != "" {
		t.Fatalf("fenced at the new epoch: %v", res)
	}
	if got := h.f.View().ShardInfos[tbKey].Ddls; len(got) != 1 || got[0] != "c" {
		t.Fatalf("info ddls = %v, want [c]", got)
	}
}
