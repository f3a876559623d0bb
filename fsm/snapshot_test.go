package fsm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// persist writes snap out and returns the bytes.
func persist(t testing.TB, snap *Snapshot) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatalf("persist: %v", err)
	}
	return buf.Bytes()
}

// roundTrip persists f's state, restores it into a new FSM and checks that
// the copy equals f record by record (proto.Equal) at the same index, and
// that persisting the copy gives the same bytes. It returns the copy.
func roundTrip(t testing.TB, f *FSM) *FSM {
	t.Helper()
	want := f.View()
	b := persist(t, f.Snapshot())
	g := New()
	if err := g.Restore(bytes.NewReader(b)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	requireViewsEqual(t, want, g.View())
	if g.AppliedIndex() != f.AppliedIndex() {
		t.Fatalf("restored index = %d, want %d", g.AppliedIndex(), f.AppliedIndex())
	}
	if again := persist(t, g.Snapshot()); !bytes.Equal(b, again) {
		t.Fatal("persisting the restored state gives other bytes")
	}
	return g
}

func recordCount(v *View, kind string) int {
	return map[string]int{
		kindNodes: len(v.Nodes), kindSources: len(v.Sources), kindBindings: len(v.Bindings),
		kindTasks: len(v.Tasks), kindSubtasks: len(v.Subtasks), kindShardInfos: len(v.ShardInfos),
		kindShardLocks: len(v.ShardLocks), kindShardOperations: len(v.ShardOperations),
	}[kind]
}

// TestSnapshotRoundTrip round-trips a state for every record kind, and one
// with every kind and every field populated.
func TestSnapshotRoundTrip(t *testing.T) {
	cases := []struct {
		kind  string
		setup func(h *harness)
	}{
		{kindNodes, func(h *harness) {
			h.registerNode("n1")
			h.registerNode("n2")
			h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n2", Evict: true})
		}},
		{kindSources, func(h *harness) { h.createSource("s1"); h.createSource("s2") }},
		{kindBindings, func(h *harness) {
			h.registerNode("n1")
			h.createSource("s1")
			h.createSource("s2")
			h.bind("s1", "n1")
			h.bind("s2", "n1")
			h.bind("s2", "n1")
		}},
		{kindTasks, cluster},
		{kindSubtasks, then(func(h *harness) {
			h.must(pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{Task: "t1", SourceId: "s1", Epoch: 1, Mark: &pb.UnitMark{Unit: "dump", Position: &pb.BinlogPosition{Name: "bin.1", Pos: 4}}})
			h.must(pb.CommandType_REPORT_SUBTASK_ERROR, &pb.ReportSubtaskError{Task: "t1", SourceId: "s2", Epoch: 1, Pause: true, Error: &pb.SubtaskError{Code: "1", Message: "boom"}})
		})},
		{kindShardInfos, then((*harness).shardState)},
		{kindShardLocks, then((*harness).shardState)},
		{kindShardOperations, then((*harness).shardState)},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			h := newHarness(t)
			c.setup(h)
			if recordCount(h.f.View(), c.kind) == 0 {
				t.Fatalf("the fixture has no %s", c.kind)
			}
			roundTrip(t, h.f)
		})
	}
	t.Run("empty", func(t *testing.T) {
		g := roundTrip(t, New())
		if g.AppliedIndex() != 0 || len(g.View().Nodes) != 0 {
			t.Fatalf("restored empty state: %+v", g.View())
		}
	})
	t.Run("everything", func(t *testing.T) {
		h := newHarness(t)
		h.fullState()
		// Every record kind and every field of every record is non-zero, so
		// a field that Persist or Restore drops cannot hide behind a zero.
		requireAllFieldsSet(t, toSnapshotProto(h.f.View()))
		g := roundTrip(t, h.f)

		// The copy goes on like the original.
		h2 := &harness{t: t, f: g, index: h.index}
		for _, x := range []*harness{h, h2} {
			x.bind("s1", "n2")
			x.must(pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: "t1"})
		}
		requireViewsEqual(t, h.f.View(), g.View())
	})
}

// TestRestoreReplacesEverything restores into an FSM that holds other
// state, at a higher index: nothing of the old state may survive.
func TestRestoreReplacesEverything(t *testing.T) {
	src := newHarness(t)
	src.fullState()
	want := src.f.View()
	snapshot := persist(t, src.f.Snapshot())

	other := newHarness(t)
	other.registerNode("x1")
	other.createSource("y1")
	other.bind("y1", "x1")
	other.createTask("z1", "y1")
	for i := 0; i < 40; i++ { // push the index past the snapshot's
		other.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: &pb.ShardLock{Id: "other", Task: "z1"}})
	}
	other.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: &pb.ShardInfo{Task: "z1", SourceId: "y1"}})
	other.must(pb.CommandType_PUT_SHARD_OPERATION, &pb.PutShardOperation{Operation: &pb.ShardOperation{LockId: "other", SourceId: "y1"}})
	// Same keys as in the snapshot, other content.
	other.registerNode("n1")
	other.must(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "s1", Host: "elsewhere"}})
	if other.index <= want.Index {
		t.Fatalf("setup: other index %d is not past the snapshot's %d", other.index, want.Index)
	}
	before := other.f.View()
	frozen := copyView(before)
	changed := other.f.Changed()

	if err := other.f.Restore(bytes.NewReader(snapshot)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	requireViewsEqual(t, want, other.f.View())
	requireViewsEqual(t, frozen, before) // the old view is untouched
	select {
	case <-changed:
	default:
		t.Fatal("Restore did not fire Changed")
	}

	t.Run("an empty snapshot empties the state", func(t *testing.T) {
		if err := other.f.Restore(bytes.NewReader(persist(t, New().Snapshot()))); err != nil {
			t.Fatalf("restore: %v", err)
		}
		requireViewsEqual(t, emptyView(), other.f.View())
	})
}

// TestRestoreError: a snapshot that cannot be read or decoded returns an
// error and keeps the state.
func TestRestoreError(t *testing.T) {
	h := newHarness(t)
	h.cluster()
	before := copyView(h.f.View())
	for name, r := range map[string]func() *bytes.Reader{
		"truncated": func() *bytes.Reader {
			b := persist(t, h.f.Snapshot())
			return bytes.NewReader(b[:len(b)/2])
		},
		"garbage": func() *bytes.Reader { return bytes.NewReader([]byte{0x0a, 0xff, 0xff, 0xff, 0x0f}) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := h.f.Restore(r()); err == nil {
				t.Fatal("Restore succeeded")
			}
			requireViewsEqual(t, before, h.f.View())
		})
	}
	t.Run("read error", func(t *testing.T) {
		if err := h.f.Restore(iotest.ErrReader(os.ErrClosed)); err == nil {
			t.Fatal("Restore succeeded")
		}
		requireViewsEqual(t, before, h.f.View())
	})
}

// TestSnapshotIsACapture: Persist writes the state as of Snapshot, even
// when commands were applied in between (raft persists concurrently).
func TestSnapshotIsACapture(t *testing.T) {
	h := newHarness(t)
	h.fullState()
	want := copyView(h.f.View())
	snap := h.f.Snapshot()

	h.must(pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: "t1"})
	h.must(pb.CommandType_REMOVE_NODE, &pb.RemoveNode{Name: "n1"})
	h.bind("s2", "n3")
	h.registerNode("n4")

	g := New()
	if err := g.Restore(bytes.NewReader(persist(t, snap))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	requireViewsEqual(t, want, g.View())
}

// TestPersistIsDeterministic: equal states give identical bytes, whatever
// order their records were inserted in, and persisting twice gives the
// same bytes.
func TestPersistIsDeterministic(t *testing.T) {
	const now = 1_700_000_000_000
	build := func(order []int) *FSM {
		f := New()
		var index uint64
		apply := func(typ pb.CommandType, body proto.Message) {
			index++
			if res := f.Apply(index, Encode(NewCommand(typ, body, now))); res.Code != "" {
				t.Fatalf("%v: %s", typ, res.Message)
			}
		}
		names := []string{"a", "b", "c", "d", "e"}
		for _, i := range order {
			apply(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: testNode("n" + names[i])})
			apply(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: testSourceConfig("s" + names[i])})
			apply(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: &pb.ShardLock{
				Id: "L" + names[i], Synced: map[string]bool{"x": true, "y": false, "z": true, names[i]: true},
			}})
		}
		for _, i := range order {
			apply(pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s" + names[i], Node: "n" + names[(i+1)%len(names)], Epoch: 1})
		}
		return f
	}
	a, b := build([]int{0, 1, 2, 3, 4}), build([]int{4, 2, 0, 3, 1})
	requireViewsEqual(t, a.View(), b.View())
	want := persist(t, a.Snapshot())
	if got := persist(t, b.Snapshot()); !bytes.Equal(want, got) {
		t.Fatal("equal states persist to different bytes")
	}
	for i := 0; i < 20; i++ {
		if got := persist(t, a.Snapshot()); !bytes.Equal(want, got) {
			t.Fatal("persisting the same state twice gives different bytes")
		}
	}
}

// TestSnapshotFormatIsStable decodes a checked-in snapshot, written by an
// earlier build, and compares it with its text form: a field renumbered or
// retyped in fsm.proto would make old snapshots decode into something else.
// Restoring it and persisting again gives the same bytes. Run with -update
// to rewrite both files from the full fixture (only when the format changes
// on purpose; old snapshots must still restore).
func TestSnapshotFormatIsStable(t *testing.T) {
	binPath := filepath.Join("testdata", "snapshot.binpb")
	txtPath := filepath.Join("testdata", "snapshot.txtpb")
	if *update {
		h := newHarness(t)
		h.fullState()
		txt, err := prototext.MarshalOptions{Multiline: true}.Marshal(toSnapshotProto(h.f.View()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(binPath, persist(t, h.f.Snapshot()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(txtPath, txt, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(txtPath)
	if err != nil {
		t.Fatal(err)
	}
	var fromBin, fromText pb.Snapshot
	if err := proto.Unmarshal(bin, &fromBin); err != nil {
		t.Fatalf("decode %s: %v", binPath, err)
	}
	if err := prototext.Unmarshal(txt, &fromText); err != nil {
		t.Fatalf("decode %s: %v", txtPath, err)
	}
	requireProto(t, "binary snapshot against its text form", &fromText, &fromBin)

	f := New()
	if err := f.Restore(bytes.NewReader(bin)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if f.AppliedIndex() != fromText.AppliedIndex || len(f.View().Subtasks) != len(fromText.Subtasks) {
		t.Fatalf("restored index %d with %d subtasks, want %d and %d", f.AppliedIndex(), len(f.View().Subtasks), fromText.AppliedIndex, len(fromText.Subtasks))
	}
	if again := persist(t, f.Snapshot()); !bytes.Equal(bin, again) {
		t.Fatal("restoring the checked-in snapshot and persisting it again gives other bytes")
	}
}
