package fsm

import (
	"testing"

	pb "github.com/dmraft/dmraft/proto"
)

// The command table cases of sources and their bindings (see TestCommands).

func createSourceCases() []commandCase {
	return []commandCase{
		{
			name: "new source: enabled, unbound, epoch 0", setup: cluster,
			body: &pb.CreateSource{Config: testSourceConfig("s4")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := &pb.Source{Config: testSourceConfig("s4"), Enabled: true, CreatedUnixMs: nowAt(after.Index)}
				requireProto(t, "source s4", want, after.Sources["s4"])
				if _, bound := after.Bindings["s4"]; bound {
					t.Fatal("a new source is bound")
				}
				requireUnchangedExcept(t, before, after, kindSources)
			},
		},
		{
			name: "duplicate source id", setup: cluster,
			body: &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "s1", Host: "other"}},
			code: CodeSourceExists, msg: []string{`"s1"`, "operate-source stop s1"},
		},
		{
			name: "missing source id", setup: cluster,
			body: &pb.CreateSource{Config: &pb.SourceConfig{Host: "h"}},
			code: CodeInvalidCommand, msg: []string{"source-id"},
		},
		{
			name: "missing config", setup: cluster,
			body: &pb.CreateSource{},
			code: CodeInvalidCommand,
		},
	}
}

func removeSourceCases() []commandCase {
	return []commandCase{
		{
			name: "unused and unbound", setup: cluster,
			body: &pb.RemoveSource{SourceId: "s3"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Sources["s3"]; found {
					t.Fatal("s3 still exists")
				}
				requireUnchangedExcept(t, before, after, kindSources)
			},
		},
		{
			name: "unused and bound: the binding goes too", setup: then(func(h *harness) { h.bind("s3", "n1") }),
			body: &pb.RemoveSource{SourceId: "s3"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Sources["s3"]; found {
					t.Fatal("s3 still exists")
				}
				if _, found := after.Bindings["s3"]; found {
					t.Fatal("binding of s3 still exists")
				}
				requireUnchangedExcept(t, before, after, kindSources, kindBindings)
			},
		},
		{
			name: "after its task was removed",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: "t1"})
			}),
			body: &pb.RemoveSource{SourceId: "s1"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Sources["s1"]; found {
					t.Fatal("s1 still exists")
				}
				requireUnchangedExcept(t, before, after, kindSources, kindBindings)
			},
		},
		{
			name: "unknown source", setup: cluster,
			body: &pb.RemoveSource{SourceId: "s9"},
			code: CodeSourceNotFound, msg: []string{`"s9"`},
		},
		{
			name: "in use by a task", setup: then(func(h *harness) { h.createTask("t0", "s1") }),
			body: &pb.RemoveSource{SourceId: "s1"},
			code: CodeSourceInUse, msg: []string{`"s1"`, "[t0 t1]", "stop-task"},
		},
	}
}

func bindSourceCases() []commandCase {
	bound := func(source, node string, epoch uint64) func(t *testing.T, res *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, res *pb.ApplyResult, before, after *View) {
			t.Helper()
			if res.Epoch != epoch {
				t.Fatalf("result epoch = %d, want %d", res.Epoch, epoch)
			}
			want := &pb.Binding{SourceId: source, Node: node, Epoch: epoch, BoundUnixMs: nowAt(after.Index)}
			requireProto(t, "binding", want, after.Bindings[source])
			src := after.Sources[source]
			if src.Epoch != epoch || src.LastNode != node {
				t.Fatalf("source %s: epoch %d, last node %q; want %d, %q", source, src.Epoch, src.LastNode, epoch, node)
			}
			requireUnchangedExcept(t, before, after, kindSources, kindBindings)
			for id := range after.Bindings {
				if id != source {
					requireProto(t, "other binding "+id, before.Bindings[id], after.Bindings[id])
				}
			}
		}
	}
	return []commandCase{
		{
			name: "first bind gets epoch 1", setup: cluster,
			body:  &pb.BindSource{SourceId: "s3", Node: "n1", Epoch: 1},
			check: bound("s3", "n1", 1),
		},
		{
			name: "transfer to another node raises the epoch", setup: cluster,
			body:  &pb.BindSource{SourceId: "s1", Node: "n2", Epoch: 2},
			check: bound("s1", "n2", 2),
		},
		{
			name: "rebind after unbind continues from the last epoch", setup: then(func(h *harness) { h.unbind("s1") }),
			body:  &pb.BindSource{SourceId: "s1", Node: "n2", Epoch: 2},
			check: bound("s1", "n2", 2),
		},
		{
			name: "rebind after the node was removed continues from the last epoch",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_REMOVE_NODE, &pb.RemoveNode{Name: "n1"})
			}),
			body:  &pb.BindSource{SourceId: "s1", Node: "n2", Epoch: 2},
			check: bound("s1", "n2", 2),
		},
		{
			name: "stale plan: the current epoch again", setup: cluster,
			body: &pb.BindSource{SourceId: "s1", Node: "n2", Epoch: 1},
			code: CodeStaleEpoch, msg: []string{"s1", "epoch 1", "next epoch is 2"},
		},
		{
			name: "stale plan: made before an unbind, epochs never go down", setup: then(func(h *harness) { h.unbind("s1") }),
			body: &pb.BindSource{SourceId: "s1", Node: "n1", Epoch: 1},
			code: CodeStaleEpoch, msg: []string{"next epoch is 2"},
		},
		{
			name: "stale plan: two plans race, the second loses",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s3", Node: "n1", Epoch: 1})
			}),
			body: &pb.BindSource{SourceId: "s3", Node: "n2", Epoch: 1},
			code: CodeStaleEpoch, msg: []string{"s3", "next epoch is 2"},
		},
		{
			name: "epoch that skips ahead", setup: cluster,
			body: &pb.BindSource{SourceId: "s1", Node: "n2", Epoch: 3},
			code: CodeStaleEpoch, msg: []string{"next epoch is 2"},
		},
		{
			name: "epoch 0", setup: cluster,
			body: &pb.BindSource{SourceId: "s3", Node: "n2"},
			code: CodeStaleEpoch, msg: []string{"next epoch is 1"},
		},
		{
			name: "unknown source", setup: cluster,
			body: &pb.BindSource{SourceId: "s9", Node: "n1", Epoch: 1},
			code: CodeSourceNotFound, msg: []string{`"s9"`},
		},
		{
			name: "unknown node", setup: cluster,
			body: &pb.BindSource{SourceId: "s3", Node: "n9", Epoch: 1},
			code: CodeNodeNotFound, msg: []string{`"n9"`},
		},
	}
}

func unbindSourceCases() []commandCase {
	unbound := func(source string) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			if _, found := after.Bindings[source]; found {
				t.Fatalf("%s is still bound", source)
			}
			// The source keeps its epoch and last node: the next bind continues from there.
			requireUnchangedExcept(t, before, after, kindBindings)
			if len(after.Bindings) != len(before.Bindings)-1 {
				t.Fatalf("bindings = %v", after.Bindings)
			}
		}
	}
	return []commandCase{
		{
			name: "without an epoch", setup: cluster,
			body:  &pb.UnbindSource{SourceId: "s1"},
			check: unbound("s1"),
		},
		{
			name: "with the current epoch", setup: then(func(h *harness) { h.bind("s1", "n2") }),
			body:  &pb.UnbindSource{SourceId: "s1", Epoch: 2},
			check: unbound("s1"),
		},
		{
			name: "stale epoch", setup: then(func(h *harness) { h.bind("s1", "n2") }),
			body: &pb.UnbindSource{SourceId: "s1", Epoch: 1},
			code: CodeStaleEpoch, msg: []string{"s1", "epoch 1", "epoch 2"},
		},
		{
			name: "not bound", setup: cluster,
			body: &pb.UnbindSource{SourceId: "s3"},
			code: CodeSourceNotFound, msg: []string{`"s3"`, "not bound"},
		},
		{
			name: "unknown source", setup: cluster,
			body: &pb.UnbindSource{SourceId: "s9"},
			code: CodeSourceNotFound, msg: []string{`"s9"`},
		},
	}
}
