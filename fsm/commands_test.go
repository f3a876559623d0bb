package fsm

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// commandCase is one row of a command's table: a state, one command applied
// on top of it, and what must come out.
//
// For a business error (code != "") the runner checks that the state is the
// one before the command, record by record, with only the applied index
// raised. For a success the case's check says what changed and
// requireUnchangedExcept that nothing else did.
type commandCase struct {
	name  string
	setup func(h *harness) // builds the state before the command
	body  proto.Message
	code  string   // expected result code; "" for success
	msg   []string // substrings the result message must contain
	check func(t *testing.T, res *pb.ApplyResult, before, after *View)
}

var (
	empty   = func(*harness) {}
	cluster = (*harness).cluster
)

// then returns a setup that builds the cluster state and then applies more.
func then(more func(h *harness)) func(h *harness) {
	return func(h *harness) {
		h.t.Helper()
		h.cluster()
		more(h)
	}
}

// TestCommands runs the table of every registered command type.
func TestCommands(t *testing.T) {
	tables := commandTables()
	for typ := range registry {
		cases := tables[typ]
		if !slices.ContainsFunc(cases, func(c commandCase) bool { return c.code == "" }) ||
			!slices.ContainsFunc(cases, func(c commandCase) bool { return c.code != "" }) {
			t.Errorf("command %v needs at least one success and one business-error case", typ)
		}
	}
	for typ, cases := range tables {
		if _, registered := registry[typ]; !registered {
			t.Errorf("table for %v, which is not registered", typ)
		}
		t.Run(typ.String(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { runCommandCase(t, typ, c) })
			}
		})
	}
}

func runCommandCase(t *testing.T, typ pb.CommandType, c commandCase) {
	h := newHarness(t)
	c.setup(h)
	before := h.f.View()
	frozen := copyView(before)

	res := h.apply(typ, c.body)
	after := h.f.View()

	if res.Code != c.code {
		t.Fatalf("result code = %q (%s), want %q", res.Code, res.Message, c.code)
	}
	for _, sub := range c.msg {
		if !strings.Contains(res.Message, sub) {
			t.Errorf("result message %q does not contain %q", res.Message, sub)
		}
	}
	if c.code != "" {
		if res.Message == "" {
			t.Error("a business error needs a message")
		}
		if err := ResultError(res); err == nil || err.(*ApplyError).Code != c.code {
			t.Errorf("ResultError = %v, want an *ApplyError with code %s", err, c.code)
		}
		requireOnlyIndexChanged(t, frozen, after, h.index)
	} else {
		if res.Message != "" || ResultError(res) != nil {
			t.Errorf("success carries message %q", res.Message)
		}
		if after.Index != h.index {
			t.Fatalf("applied index = %d, want %d", after.Index, h.index)
		}
		if c.check == nil {
			t.Fatal("a success case needs a check")
		}
		c.check(t, res, frozen, after)
	}
	// Whatever happened, the view taken before the command did not move.
	requireViewsEqual(t, frozen, before)
}

// commandTables holds the cases of every command type. TestCommands fails
// when a registered type has no success or no error case here.
func commandTables() map[pb.CommandType][]commandCase {
	return map[pb.CommandType][]commandCase{
		pb.CommandType_REGISTER_NODE:        registerNodeCases(),
		pb.CommandType_REMOVE_NODE:          removeNodeCases(),
		pb.CommandType_CREATE_SOURCE:        createSourceCases(),
		pb.CommandType_REMOVE_SOURCE:        removeSourceCases(),
		pb.CommandType_BIND_SOURCE:          bindSourceCases(),
		pb.CommandType_UNBIND_SOURCE:        unbindSourceCases(),
		pb.CommandType_CREATE_TASK:          createTaskCases(),
		pb.CommandType_UPDATE_TASK:          updateTaskCases(),
		pb.CommandType_REMOVE_TASK:          removeTaskCases(),
		pb.CommandType_SET_SUBTASK_STAGE:    setSubtaskStageCases(),
		pb.CommandType_MARK_UNIT_FINISHED:   markUnitFinishedCases(),
		pb.CommandType_REPORT_SUBTASK_ERROR: reportSubtaskErrorCases(),
		pb.CommandType_SET_LEADER_EVICTION:  setLeaderEvictionCases(),
		pb.CommandType_PUT_SHARD_INFO:       putShardInfoCases(),
		pb.CommandType_PUT_SHARD_LOCK:       putShardLockCases(),
		pb.CommandType_PUT_SHARD_OPERATION:  putShardOperationCases(),
		pb.CommandType_REMOVE_SHARD_LOCK:    removeShardLockCases(),
		pb.CommandType_SET_BINLOG_OPERATOR:  setBinlogOperatorCases(),
		pb.CommandType_REMOVE_SHARD_INFO:    removeShardInfoCases(),
	}
}

func withAddrs(name, addr, raft, gossip string) *pb.Node {
	return &pb.Node{Name: name, Addr: addr, RaftAddr: raft, GossipAddr: gossip}
}

func registerNodeCases() []commandCase {
	return []commandCase{
		{
			name: "first node", setup: empty,
			body: &pb.RegisterNode{Node: testNode("n1")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := testNode("n1")
				want.JoinedUnixMs = nowAt(after.Index)
				requireProto(t, "node n1", want, after.Nodes["n1"])
				if len(after.Nodes) != 1 {
					t.Fatalf("nodes = %v", after.NodeNames())
				}
				requireUnchangedExcept(t, before, after, kindNodes)
			},
		},
		{
			name: "another node joins", setup: cluster,
			body: &pb.RegisterNode{Node: testNode("n3")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := testNode("n3")
				want.JoinedUnixMs = nowAt(after.Index)
				requireProto(t, "node n3", want, after.Nodes["n3"])
				rest := copyView(after)
				delete(rest.Nodes, "n3")
				requireUnchangedExcept(t, before, rest)
			},
		},
		{
			name: "same node registers again: idempotent, keeps join time and eviction",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n1", Evict: true})
			}),
			body: &pb.RegisterNode{Node: testNode("n1")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				requireUnchangedExcept(t, before, after)
				if !after.Nodes["n1"].EvictLeader || after.Nodes["n1"].JoinedUnixMs != nowAt(1) {
					t.Fatalf("n1 = %v", after.Nodes["n1"])
				}
			},
		},
		{
			name: "node without admin and gossip address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "", "n3:8291", "")},
			check: func(t *testing.T, _ *pb.ApplyResult, _, after *View) {
				if after.Nodes["n3"].GetRaftAddr() != "n3:8291" {
					t.Fatalf("n3 = %v", after.Nodes["n3"])
				}
			},
		},
		{
			name: "duplicate name at another address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n1", "n9:8261", "n9:8291", "n9:8301")},
			code: CodeNodeExists, msg: []string{`"n1"`, "n1:8291"},
		},
		{
			name: "same name with one address changed", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n1", "n1:8261", "n1:8291", "n1:9999")},
			code: CodeNodeExists, msg: []string{`"n1"`},
		},
		{
			name: "duplicate raft address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n3:8261", "n1:8291", "n3:8301")},
			code: CodeNodeExists, msg: []string{`"n3"`, `"n1"`},
		},
		{
			name: "duplicate admin address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n2:8261", "n3:8291", "n3:8301")},
			code: CodeNodeExists, msg: []string{`"n3"`, `"n2"`},
		},
		{
			name: "duplicate gossip address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n3:8261", "n3:8291", "n2:8301")},
			code: CodeNodeExists, msg: []string{`"n3"`, `"n2"`},
		},
		{
			name: "missing name", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("", "", "n3:8291", "")},
			code: CodeInvalidCommand, msg: []string{"name"},
		},
		{
			name: "missing raft address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n3:8261", "", "")},
			code: CodeInvalidCommand, msg: []string{"raft address"},
		},
		{
			name: "missing node", setup: cluster,
			body: &pb.RegisterNode{},
			code: CodeInvalidCommand,
		},
	}
}

func removeNodeCases() []commandCase {
	return []commandCase{
		{
			name: "removes the node and drops its bindings, sources keep epoch and last node",
			setup: then(func(h *harness) {
				h.bind("s3", "n1")
			}),
			body: &pb.RemoveNode{Name: "n1"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Nodes["n1"]; found {
					t.Fatal("n1 is still registered")
				}
				if got := after.BindingsOfNode("n1"); len(got) != 0 {
					t.Fatalf("bindings of removed n1: %v", got)
				}
				requireProto(t, "binding of s2 on n2", before.Bindings["s2"], after.Bindings["s2"])
				if len(after.Bindings) != 1 {
					t.Fatalf("bindings = %v", after.Bindings)
				}
				if s := after.Sources["s1"]; s.Epoch != 1 || s.LastNode != "n1" {
					t.Fatalf("s1 = %v, want epoch 1 and last node n1", s)
				}
				requireUnchangedExcept(t, before, after, kindNodes, kindBindings)
			},
		},
		{
			name: "node without bindings", setup: then(func(h *harness) { h.registerNode("n3") }),
			body: &pb.RemoveNode{Name: "n3"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Nodes["n3"]; found {
					t.Fatal("n3 is still registered")
				}
				requireUnchangedExcept(t, before, after, kindNodes)
			},
		},
		{
			name: "unknown node", setup: cluster,
			body: &pb.RemoveNode{Name: "n9"},
			code: CodeNodeNotFound, msg: []string{`"n9"`},
		},
	}
}

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

func createTaskCases() []commandCase {
	newTask := func(name string, sources ...string) *pb.CreateTask {
		c := &pb.CreateTask{Task: testTask(name, sources...)}
		for _, s := range sources {
			c.Subtasks = append(c.Subtasks, &pb.Subtask{SourceId: s})
		}
		return c
	}
	paused := newTask("t2", "s1", "s3")
	paused.Subtasks[1].DesiredStage = pb.Stage_PAUSED
	return []commandCase{
		{
			name: "subtasks are created RUNNING at revision 1", setup: cluster,
			body: newTask("t2", "s1", "s3"),
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				now := nowAt(after.Index)
				want := testTask("t2", "s1", "s3")
				want.Revision, want.CreatedUnixMs, want.UpdatedUnixMs = 1, now, now
				requireProto(t, "task t2", want, after.Tasks["t2"])
				got := after.SubtasksOfTask("t2")
				if len(got) != 2 {
					t.Fatalf("subtasks of t2 = %v", got)
				}
				for i, src := range []string{"s1", "s3"} {
					want := &pb.Subtask{Task: "t2", SourceId: src, DesiredStage: pb.Stage_RUNNING, Revision: 1, UpdatedUnixMs: now}
					requireProto(t, "subtask t2/"+src, want, got[i])
				}
				requireUnchangedExcept(t, before, after, kindTasks, kindSubtasks)
				for k, st := range before.Subtasks {
					requireProto(t, "subtask of t1", st, after.Subtasks[k])
				}
			},
		},
		{
			name: "an explicit stage is kept", setup: cluster,
			body: paused,
			check: func(t *testing.T, _ *pb.ApplyResult, _, after *View) {
				if got := after.Subtasks[SubtaskKey{"t2", "s3"}].DesiredStage; got != pb.Stage_PAUSED {
					t.Fatalf("t2/s3 stage = %v, want PAUSED", got)
				}
				if got := after.Subtasks[SubtaskKey{"t2", "s1"}].DesiredStage; got != pb.Stage_RUNNING {
					t.Fatalf("t2/s1 stage = %v, want RUNNING", got)
				}
			},
		},
		{
			name: "duplicate task name", setup: cluster,
			body: newTask("t1", "s3"),
			code: CodeTaskExists, msg: []string{`"t1"`, "update-task", "stop-task t1"},
		},
		{
			name: "unknown source", setup: cluster,
			body: newTask("t2", "s9"),
			code: CodeSourceNotFound, msg: []string{`"t2"`, `"s9"`, "operate-source create"},
		},
		{
			name: "unknown source after a known one creates nothing", setup: cluster,
			body: newTask("t2", "s1", "s3", "s9"),
			code: CodeSourceNotFound, msg: []string{`"s9"`},
		},
		{
			name: "missing name", setup: cluster,
			body: newTask("", "s1"),
			code: CodeInvalidCommand, msg: []string{"name"},
		},
		{
			name: "no sources", setup: cluster,
			body: newTask("t2"),
			code: CodeInvalidCommand, msg: []string{"source"},
		},
	}
}

func updateTaskCases() []commandCase {
	rev := func(revision uint64) *pb.UpdateTask {
		t := testTask("t1", "s1", "s2")
		t.Revision, t.TaskMode, t.ConfigJson = revision, "incremental", []byte(`{"name":"t1","v":2}`)
		return &pb.UpdateTask{Task: t}
	}
	return []commandCase{
		{
			name: "revision old+1: config replaced, subtasks get the new revision, keep stage and marks",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{Task: "t1", SourceId: "s1", Epoch: 1, Mark: &pb.UnitMark{Unit: "dump"}})
				h.must(pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: "t1", SourceIds: []string{"s2"}, Stage: pb.Stage_PAUSED})
			}),
			body: rev(2),
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				now := nowAt(after.Index)
				want := rev(2).Task
				want.CreatedUnixMs, want.UpdatedUnixMs = before.Tasks["t1"].CreatedUnixMs, now
				requireProto(t, "task t1", want, after.Tasks["t1"])
				for k, old := range before.Subtasks {
					want := proto.Clone(old).(*pb.Subtask)
					want.Revision, want.UpdatedUnixMs = 2, now
					requireProto(t, "subtask "+k.Source, want, after.Subtasks[k])
				}
				requireUnchangedExcept(t, before, after, kindTasks, kindSubtasks)
			},
		},
		{
			name: "the same revision again", setup: cluster,
			body: rev(1),
			code: CodeStaleRevision, msg: []string{`"t1"`, "revision 1"},
		},
		{
			name: "a revision that skips one", setup: cluster,
			body: rev(3),
			code: CodeStaleRevision, msg: []string{"revision 3", "revision 1"},
		},
		{
			name: "unknown task", setup: cluster,
			body: &pb.UpdateTask{Task: &pb.Task{Name: "t9", Revision: 2}},
			code: CodeTaskNotFound, msg: []string{`"t9"`},
		},
		{
			name: "missing task", setup: cluster,
			body: &pb.UpdateTask{},
			code: CodeTaskNotFound,
		},
	}
}

func removeTaskCases() []commandCase {
	return []commandCase{
		{
			name: "removes its subtasks and shard records, keeps other tasks'",
			setup: then(func(h *harness) {
				h.shardState()
			}),
			body: &pb.RemoveTask{Name: "t1"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Tasks["t1"]; found {
					t.Fatal("t1 still exists")
				}
				if got := after.SubtasksOfTask("t1"); len(got) != 0 {
					t.Fatalf("subtasks of t1 left: %v", got)
				}
				want := copyView(before)
				delete(want.Tasks, "t1")
				delete(want.Subtasks, SubtaskKey{"t1", "s1"})
				delete(want.Subtasks, SubtaskKey{"t1", "s2"})
				delete(want.ShardInfos, ShardInfoKey("t1", "s1", "shard", "tb"))
				delete(want.ShardInfos, ShardInfoKey("t1", "s2", "shard", "tb"))
				delete(want.ShardLocks, "L1")
				delete(want.ShardLocks, "L2")
				delete(want.ShardOperations, ShardOperationKey("L1", "s1", "shard", "tb"))
				delete(want.ShardOperations, ShardOperationKey("L1", "s2", "shard", "tb"))
				delete(want.ShardOperations, ShardOperationKey("L2", "s1", "shard", "tb"))
				want.Index = after.Index
				requireViewsEqual(t, want, after)
				if len(after.ShardInfos) != 1 || len(after.ShardLocks) != 1 || len(after.ShardOperations) != 1 {
					t.Fatalf("t2's shard records: %v %v %v", after.ShardInfos, after.ShardLocks, after.ShardOperations)
				}
			},
		},
		{
			name: "unknown task", setup: cluster,
			body: &pb.RemoveTask{Name: "t9"},
			code: CodeTaskNotFound, msg: []string{`"t9"`},
		},
	}
}

func setSubtaskStageCases() []commandCase {
	failed := then(func(h *harness) {
		h.must(pb.CommandType_REPORT_SUBTASK_ERROR, &pb.ReportSubtaskError{
			Task: "t1", SourceId: "s1", Epoch: 1, Pause: true,
			Error: &pb.SubtaskError{Code: "1", Message: "boom", Unit: "sync"},
		})
	})
	staged := func(stage pb.Stage, sources ...string) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			for k, old := range before.Subtasks {
				got := after.Subtasks[k]
				if !slices.Contains(sources, k.Source) {
					requireProto(t, "untouched subtask "+k.Source, old, got)
					continue
				}
				want := proto.Clone(old).(*pb.Subtask)
				want.DesiredStage, want.UpdatedUnixMs = stage, nowAt(after.Index)
				if stage == pb.Stage_RUNNING {
					want.LastError = nil
				}
				requireProto(t, "subtask "+k.Source, want, got)
			}
			requireUnchangedExcept(t, before, after, kindSubtasks)
		}
	}
	return []commandCase{
		{
			name: "pause every subtask", setup: cluster,
			body:  &pb.SetSubtaskStage{Task: "t1", Stage: pb.Stage_PAUSED},
			check: staged(pb.Stage_PAUSED, "s1", "s2"),
		},
		{
			name: "pause selected subtasks", setup: cluster,
			body:  &pb.SetSubtaskStage{Task: "t1", SourceIds: []string{"s2"}, Stage: pb.Stage_PAUSED},
			check: staged(pb.Stage_PAUSED, "s2"),
		},
		{
			name: "resume clears the last error", setup: failed,
			body: &pb.SetSubtaskStage{Task: "t1", Stage: pb.Stage_RUNNING},
			check: func(t *testing.T, res *pb.ApplyResult, before, after *View) {
				if before.Subtasks[SubtaskKey{"t1", "s1"}].LastError == nil {
					t.Fatal("setup: no error to clear")
				}
				if st := after.Subtasks[SubtaskKey{"t1", "s1"}]; st.LastError != nil || st.DesiredStage != pb.Stage_RUNNING {
					t.Fatalf("t1/s1 after resume = %v", st)
				}
				staged(pb.Stage_RUNNING, "s1", "s2")(t, res, before, after)
			},
		},
		{
			name: "stop keeps the last error", setup: failed,
			body: &pb.SetSubtaskStage{Task: "t1", SourceIds: []string{"s1"}, Stage: pb.Stage_STOPPED},
			check: func(t *testing.T, res *pb.ApplyResult, before, after *View) {
				if after.Subtasks[SubtaskKey{"t1", "s1"}].LastError.GetMessage() != "boom" {
					t.Fatal("stop cleared the last error")
				}
				staged(pb.Stage_STOPPED, "s1")(t, res, before, after)
			},
		},
		{
			name: "unknown task", setup: cluster,
			body: &pb.SetSubtaskStage{Task: "t9", Stage: pb.Stage_PAUSED},
			code: CodeTaskNotFound, msg: []string{`"t9"`},
		},
		{
			name: "unknown source", setup: cluster,
			body: &pb.SetSubtaskStage{Task: "t1", SourceIds: []string{"s9"}, Stage: pb.Stage_PAUSED},
			code: CodeSubtaskNotFound, msg: []string{`"t1"`, `"s9"`},
		},
		{
			name: "a source the task does not use", setup: cluster,
			body: &pb.SetSubtaskStage{Task: "t1", SourceIds: []string{"s3"}, Stage: pb.Stage_PAUSED},
			code: CodeSubtaskNotFound, msg: []string{`"s3"`},
		},
		{
			name: "one unknown source among known ones changes nothing", setup: cluster,
			body: &pb.SetSubtaskStage{Task: "t1", SourceIds: []string{"s1", "s9"}, Stage: pb.Stage_PAUSED},
			code: CodeSubtaskNotFound, msg: []string{`"s9"`},
		},
	}
}

func markUnitFinishedCases() []commandCase {
	pos := func(p uint32) *pb.BinlogPosition {
		return &pb.BinlogPosition{Name: "mysql-bin.000001", Pos: p, GtidSet: "0-1-7"}
	}
	mark := func(unit string, p uint32, epoch uint64) *pb.MarkUnitFinished {
		return &pb.MarkUnitFinished{Task: "t1", SourceId: "s1", Epoch: epoch, Mark: &pb.UnitMark{Unit: unit, Position: pos(p)}}
	}
	dumped := then(func(h *harness) {
		h.must(pb.CommandType_MARK_UNIT_FINISHED, mark("dump", 4, 1))
	})
	marks := func(want ...*pb.UnitMark) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			st := after.Subtasks[SubtaskKey{"t1", "s1"}]
			if len(st.FinishedUnits) != len(want) {
				t.Fatalf("finished units = %v, want %v", st.FinishedUnits, want)
			}
			for i := range want {
				requireProto(t, "mark", want[i], st.FinishedUnits[i])
			}
			if st.UpdatedUnixMs != nowAt(after.Index) {
				t.Fatalf("updated = %d", st.UpdatedUnixMs)
			}
			requireProto(t, "the other subtask", before.Subtasks[SubtaskKey{"t1", "s2"}], after.Subtasks[SubtaskKey{"t1", "s2"}])
			requireUnchangedExcept(t, before, after, kindSubtasks)
		}
	}
	// cluster: the dump mark is applied at index 9, the command under test at 10.
	return []commandCase{
		{
			name: "first mark", setup: cluster,
			body:  mark("dump", 4, 1),
			check: marks(&pb.UnitMark{Unit: "dump", Position: pos(4), FinishedUnixMs: nowAt(9)}),
		},
		{
			name: "a second unit is appended", setup: dumped,
			body: mark("load", 8, 1),
			check: marks(
				&pb.UnitMark{Unit: "dump", Position: pos(4), FinishedUnixMs: nowAt(9)},
				&pb.UnitMark{Unit: "load", Position: pos(8), FinishedUnixMs: nowAt(10)},
			),
		},
		{
			name: "a mark of the same unit replaces the old one", setup: dumped,
			body:  mark("dump", 6, 1),
			check: marks(&pb.UnitMark{Unit: "dump", Position: pos(6), FinishedUnixMs: nowAt(10)}),
		},
		{
			name:  "the new owner after a transfer reports with its epoch",
			setup: then(func(h *harness) { h.bind("s1", "n2") }),
			body:  mark("dump", 4, 2),
			check: marks(&pb.UnitMark{Unit: "dump", Position: pos(4), FinishedUnixMs: nowAt(10)}),
		},
		{
			name: "stale epoch: the old owner after a transfer", setup: then(func(h *harness) { h.bind("s1", "n2") }),
			body: mark("dump", 4, 1),
			code: CodeStaleEpoch, msg: []string{`"s1"`, "epoch 1", "epoch 2"},
		},
		{
			name: "stale epoch: the old owner does not replace the new owner's mark",
			setup: then(func(h *harness) {
				h.bind("s1", "n2")
				h.must(pb.CommandType_MARK_UNIT_FINISHED, mark("dump", 9, 2))
			}),
			body: mark("dump", 4, 1),
			code: CodeStaleEpoch,
		},
		{
			name: "epoch from the future", setup: cluster,
			body: mark("dump", 4, 2),
			code: CodeStaleEpoch,
		},
		{
			name: "source no longer bound", setup: then(func(h *harness) { h.unbind("s1") }),
			body: mark("dump", 4, 1),
			code: CodeStaleEpoch, msg: []string{"epoch 0"},
		},
		{
			name: "unknown subtask", setup: cluster,
			body: &pb.MarkUnitFinished{Task: "t1", SourceId: "s3", Epoch: 0, Mark: &pb.UnitMark{Unit: "dump"}},
			code: CodeSubtaskNotFound, msg: []string{`"t1"`, `"s3"`},
		},
		{
			name: "missing mark", setup: cluster,
			body: &pb.MarkUnitFinished{Task: "t1", SourceId: "s1", Epoch: 1},
			code: CodeInvalidCommand, msg: []string{"unit"},
		},
		{
			name: "mark without a unit", setup: cluster,
			body: &pb.MarkUnitFinished{Task: "t1", SourceId: "s1", Epoch: 1, Mark: &pb.UnitMark{Position: pos(4)}},
			code: CodeInvalidCommand, msg: []string{"unit"},
		},
	}
}

func reportSubtaskErrorCases() []commandCase {
	subErr := &pb.SubtaskError{Code: "38032", Class: "sync-unit", Message: "duplicate entry", Workaround: "check the target", Unit: "sync", Revision: 1}
	report := func(pause bool, epoch uint64) *pb.ReportSubtaskError {
		return &pb.ReportSubtaskError{Task: "t1", SourceId: "s1", Epoch: epoch, Pause: pause, Error: subErr}
	}
	reported := func(stage pb.Stage, withError bool) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			k := SubtaskKey{"t1", "s1"}
			want := proto.Clone(before.Subtasks[k]).(*pb.Subtask)
			want.DesiredStage, want.UpdatedUnixMs, want.LastError = stage, nowAt(after.Index), nil
			if withError {
				want.LastError = proto.Clone(subErr).(*pb.SubtaskError)
				want.LastError.AtUnixMs = nowAt(after.Index)
			}
			requireProto(t, "t1/s1", want, after.Subtasks[k])
			requireUnchangedExcept(t, before, after, kindSubtasks)
			requireProto(t, "t1/s2", before.Subtasks[SubtaskKey{"t1", "s2"}], after.Subtasks[SubtaskKey{"t1", "s2"}])
		}
	}
	return []commandCase{
		{
			name: "error without pause keeps the stage", setup: cluster,
			body:  report(false, 1),
			check: reported(pb.Stage_RUNNING, true),
		},
		{
			name: "error with pause", setup: cluster,
			body:  report(true, 1),
			check: reported(pb.Stage_PAUSED, true),
		},
		{
			name: "no error clears the last error", setup: then(func(h *harness) { h.must(pb.CommandType_REPORT_SUBTASK_ERROR, report(false, 1)) }),
			body:  &pb.ReportSubtaskError{Task: "t1", SourceId: "s1", Epoch: 1},
			check: reported(pb.Stage_RUNNING, false),
		},
		{
			name: "stale epoch: the old owner after a transfer", setup: then(func(h *harness) { h.bind("s1", "n2") }),
			body: report(true, 1),
			code: CodeStaleEpoch, msg: []string{`"s1"`, "epoch 1", "epoch 2"},
		},
		{
			name: "source no longer bound", setup: then(func(h *harness) { h.unbind("s1") }),
			body: report(true, 1),
			code: CodeStaleEpoch,
		},
		{
			name: "unknown subtask", setup: cluster,
			body: &pb.ReportSubtaskError{Task: "t9", SourceId: "s1", Epoch: 1, Error: subErr},
			code: CodeSubtaskNotFound, msg: []string{`"t9"`, `"s1"`},
		},
	}
}

func setLeaderEvictionCases() []commandCase {
	evicted := func(node string, evict bool) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			want := proto.Clone(before.Nodes[node]).(*pb.Node)
			want.EvictLeader = evict
			requireProto(t, "node", want, after.Nodes[node])
			requireUnchangedExcept(t, before, after, kindNodes)
			restBefore, restAfter := copyView(before), copyView(after)
			delete(restBefore.Nodes, node)
			delete(restAfter.Nodes, node)
			requireUnchangedExcept(t, restBefore, restAfter)
		}
	}
	return []commandCase{
		{
			name: "evict", setup: cluster,
			body:  &pb.SetLeaderEviction{Node: "n1", Evict: true},
			check: evicted("n1", true),
		},
		{
			name: "cancel an eviction",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n1", Evict: true})
			}),
			body:  &pb.SetLeaderEviction{Node: "n1", Evict: false},
			check: evicted("n1", false),
		},
		{
			name: "unknown node", setup: cluster,
			body: &pb.SetLeaderEviction{Node: "n9", Evict: true},
			code: CodeNodeNotFound, msg: []string{`"n9"`},
		},
	}
}

func putShardInfoCases() []commandCase {
	info := func(rev uint64) *pb.ShardInfo {
		return &pb.ShardInfo{Task: "t1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb", Ddls: []string{"ALTER TABLE tb ADD c INT"}, Revision: rev, LockId: "L1"}
	}
	stored := func(want *pb.ShardInfo) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			want = proto.Clone(want).(*pb.ShardInfo)
			want.UpdatedIndex = after.Index // stamped by Apply
			requireProto(t, "shard info", want, after.ShardInfos[ShardInfoKey("t1", "s1", "shard", "tb")])
			requireUnchangedExcept(t, before, after, kindShardInfos)
		}
	}
	return []commandCase{
		{
			name: "new info", setup: cluster,
			body:  &pb.PutShardInfo{Info: info(1)},
			check: stored(info(1)),
		},
		{
			name: "replaces the info of the same table", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.PutShardInfo{Info: info(2)},
			check: func(t *testing.T, res *pb.ApplyResult, before, after *View) {
				if len(after.ShardInfos) != len(before.ShardInfos) {
					t.Fatalf("shard infos: %d before, %d after", len(before.ShardInfos), len(after.ShardInfos))
				}
				stored(info(2))(t, res, before, after)
			},
		},
		{
			name: "a stamped index from the proposer is replaced", setup: cluster,
			body:  &pb.PutShardInfo{Info: func() *pb.ShardInfo { i := info(1); i.UpdatedIndex = 999; return i }()},
			check: stored(info(1)),
		},
		{
			name: "missing task", setup: cluster,
			body: &pb.PutShardInfo{Info: &pb.ShardInfo{SourceId: "s1"}},
			code: CodeInvalidCommand, msg: []string{"task"},
		},
		{
			name: "missing source", setup: cluster,
			body: &pb.PutShardInfo{Info: &pb.ShardInfo{Task: "t1"}},
			code: CodeInvalidCommand, msg: []string{"source"},
		},
	}
}

func putShardLockCases() []commandCase {
	lock := func(resolved bool) *pb.ShardLock {
		return &pb.ShardLock{Id: "L1", Task: "t1", Mode: "pessimistic", OwnerSource: "s1", Synced: map[string]bool{"s1/shard.tb": true}, Resolved: resolved}
	}
	return []commandCase{
		{
			name: "new lock is stamped with the command time", setup: cluster,
			body: &pb.PutShardLock{Lock: lock(false)},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := lock(false)
				want.CreatedUnixMs = nowAt(after.Index)
				requireProto(t, "lock", want, after.ShardLocks["L1"])
				requireUnchangedExcept(t, before, after, kindShardLocks)
			},
		},
		{
			name: "update keeps the creation time", setup: then(func(h *harness) { h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: lock(false)}) }),
			body: &pb.PutShardLock{Lock: lock(true)},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := lock(true)
				want.CreatedUnixMs = before.ShardLocks["L1"].CreatedUnixMs
				requireProto(t, "lock", want, after.ShardLocks["L1"])
				requireUnchangedExcept(t, before, after, kindShardLocks)
			},
		},
		{
			name: "missing id", setup: cluster,
			body: &pb.PutShardLock{Lock: &pb.ShardLock{Task: "t1"}},
			code: CodeInvalidCommand, msg: []string{"id"},
		},
		{
			name: "versioned: a new lock starts at version 1", setup: cluster,
			body: &pb.PutShardLock{Lock: versioned(1)},
			check: func(t *testing.T, _ *pb.ApplyResult, _, after *View) {
				if got := after.ShardLocks["L1"].GetVersion(); got != 1 {
					t.Fatalf("version %d", got)
				}
			},
		},
		{
			name: "versioned: a new lock at version 2 is stale", setup: cluster,
			body: &pb.PutShardLock{Lock: versioned(2)},
			code: CodeStaleRevision, msg: []string{`"L1"`, "version 2", "version 0"},
		},
		{
			name: "versioned: the next version applies", setup: then(func(h *harness) { h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: versioned(1)}) }),
			body: &pb.PutShardLock{Lock: versioned(2)},
			check: func(t *testing.T, _ *pb.ApplyResult, _, after *View) {
				if got := after.ShardLocks["L1"].GetVersion(); got != 2 {
					t.Fatalf("version %d", got)
				}
			},
		},
		{
			name: "versioned: a put planned on an old version is stale", setup: then(func(h *harness) {
				h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: versioned(1)})
				h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: versioned(2)})
			}),
			body: &pb.PutShardLock{Lock: versioned(2)},
			code: CodeStaleRevision, msg: []string{"version 2", "at version 2"},
		},
		{
			name: "operations are put with the lock", setup: cluster,
			body: &pb.PutShardLock{Lock: lock(false), Operations: []*pb.ShardOperation{
				{LockId: "L1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb", Action: "exec", Revision: 1},
				{LockId: "L1", SourceId: "s2", UpstreamSchema: "shard", UpstreamTable: "tb", Revision: 4},
			}},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				requireProto(t, "operation", &pb.ShardOperation{LockId: "L1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb", Action: "exec", Revision: 1},
					after.ShardOperations[ShardOperationKey("L1", "s1", "shard", "tb")])
				requireProto(t, "operation", &pb.ShardOperation{LockId: "L1", SourceId: "s2", UpstreamSchema: "shard", UpstreamTable: "tb", Revision: 4},
					after.ShardOperations[ShardOperationKey("L1", "s2", "shard", "tb")])
				requireUnchangedExcept(t, before, after, kindShardLocks, kindShardOperations)
			},
		},
		{
			name: "an operation of another lock is refused", setup: cluster,
			body: &pb.PutShardLock{Lock: lock(false), Operations: []*pb.ShardOperation{{LockId: "L2", SourceId: "s1"}}},
			code: CodeInvalidCommand, msg: []string{`"L1"`, `"L2"`},
		},
	}
}

func versioned(version uint64) *pb.ShardLock {
	return &pb.ShardLock{Id: "L1", Task: "t1", Mode: "pessimistic", Version: version}
}

func putShardOperationCases() []commandCase {
	op := func(done bool) *pb.ShardOperation {
		return &pb.ShardOperation{LockId: "L1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb", Ddls: []string{"ALTER TABLE tb ADD c INT"}, Action: "exec", Done: done, Revision: 1}
	}
	stored := func(want *pb.ShardOperation) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			requireProto(t, "operation", want, after.ShardOperations[ShardOperationKey("L1", "s1", "shard", "tb")])
			requireUnchangedExcept(t, before, after, kindShardOperations)
		}
	}
	return []commandCase{
		{
			name: "new operation", setup: cluster,
			body:  &pb.PutShardOperation{Operation: op(false)},
			check: stored(op(false)),
		},
		{
			name: "replaces the operation of the same table", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.PutShardOperation{Operation: op(true)},
			check: func(t *testing.T, res *pb.ApplyResult, before, after *View) {
				if len(after.ShardOperations) != len(before.ShardOperations) {
					t.Fatalf("operations: %d before, %d after", len(before.ShardOperations), len(after.ShardOperations))
				}
				stored(op(true))(t, res, before, after)
			},
		},
		{
			name: "missing lock id", setup: cluster,
			body: &pb.PutShardOperation{Operation: &pb.ShardOperation{SourceId: "s1"}},
			code: CodeInvalidCommand, msg: []string{"lock id"},
		},
	}
}

func removeShardInfoCases() []commandCase {
	return []commandCase{
		{
			name: "removes that info only; locks and operations stay", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.RemoveShardInfo{Task: "t1", SourceId: "s1", UpstreamSchema: "shard", UpstreamTable: "tb"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := copyView(before)
				want.Index = after.Index
				delete(want.ShardInfos, ShardInfoKey("t1", "s1", "shard", "tb"))
				requireViewsEqual(t, want, after)
			},
		},
		{
			name: "an info that is not there: nothing changes", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.RemoveShardInfo{Task: "t1", SourceId: "s9", UpstreamSchema: "shard", UpstreamTable: "tb"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := copyView(before)
				want.Index = after.Index
				requireViewsEqual(t, want, after)
			},
		},
		{
			name: "no table", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.RemoveShardInfo{Task: "t1", SourceId: "s1"},
			code: CodeInvalidCommand, msg: []string{"table"},
		},
	}
}

func removeShardLockCases() []commandCase {
	return []commandCase{
		{
			name: "removes the lock and its operations only", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.RemoveShardLock{Id: "L1"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := copyView(before)
				want.Index = after.Index
				delete(want.ShardLocks, "L1")
				delete(want.ShardOperations, ShardOperationKey("L1", "s1", "shard", "tb"))
				delete(want.ShardOperations, ShardOperationKey("L1", "s2", "shard", "tb"))
				requireViewsEqual(t, want, after)
				if len(after.ShardOperations) != 2 {
					t.Fatalf("operations left: %v", after.ShardOperations)
				}
			},
		},
		{
			name: "unknown lock", setup: then(func(h *harness) { h.shardState() }),
			body: &pb.RemoveShardLock{Id: "L9"},
			code: CodeShardLockNotFound, msg: []string{`"L9"`},
		},
		{
			name: "versioned: removes the lock at that version", setup: then(func(h *harness) { h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: versioned(1)}) }),
			body: &pb.RemoveShardLock{Id: "L1", Version: 1},
			check: func(t *testing.T, _ *pb.ApplyResult, _, after *View) {
				if _, found := after.ShardLocks["L1"]; found {
					t.Fatal("lock still there")
				}
			},
		},
		{
			name: "versioned: a remove planned on an old version is stale", setup: then(func(h *harness) {
				h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: versioned(1)})
				h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: versioned(2)})
			}),
			body: &pb.RemoveShardLock{Id: "L1", Version: 1},
			code: CodeStaleRevision, msg: []string{`"L1"`, "version 1", "version 2"},
		},
	}
}

func setBinlogOperatorCases() []commandCase {
	skip := &pb.BinlogOperator{Op: "skip", Position: "mysql-bin.000001:1234"}
	set := func(op *pb.BinlogOperator) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			for k, old := range before.Subtasks {
				got := after.Subtasks[k]
				if k.Source != "s1" {
					requireProto(t, "untouched subtask "+k.Source, old, got)
					continue
				}
				want := proto.Clone(old).(*pb.Subtask)
				want.BinlogOperator, want.UpdatedUnixMs = op, nowAt(after.Index)
				requireProto(t, "subtask "+k.Source, want, got)
			}
			requireUnchangedExcept(t, before, after, kindSubtasks)
		}
	}
	withSkip := then(func(h *harness) {
		h.must(pb.CommandType_SET_BINLOG_OPERATOR, &pb.SetBinlogOperator{Task: "t1", SourceId: "s1", Operator: skip})
	})
	replace := &pb.BinlogOperator{Op: "replace", Position: "mysql-bin.000001:1234", Statements: []string{"ALTER TABLE t ADD c BIGINT"}}
	return []commandCase{
		{
			name: "set skip", setup: cluster,
			body:  &pb.SetBinlogOperator{Task: "t1", SourceId: "s1", Operator: skip},
			check: set(skip),
		},
		{
			name: "replace overwrites", setup: withSkip,
			body:  &pb.SetBinlogOperator{Task: "t1", SourceId: "s1", Operator: replace},
			check: set(replace),
		},
		{
			name: "clear", setup: withSkip,
			body:  &pb.SetBinlogOperator{Task: "t1", SourceId: "s1"},
			check: set(nil),
		},
		{
			name: "unknown task", setup: cluster,
			body: &pb.SetBinlogOperator{Task: "t9", SourceId: "s1", Operator: skip},
			code: CodeTaskNotFound, msg: []string{`"t9"`},
		},
		{
			name: "unknown subtask", setup: cluster,
			body: &pb.SetBinlogOperator{Task: "t1", SourceId: "s3", Operator: skip},
			code: CodeSubtaskNotFound, msg: []string{`"s3"`},
		},
		{
			name: "bad op", setup: cluster,
			body: &pb.SetBinlogOperator{Task: "t1", SourceId: "s1", Operator: &pb.BinlogOperator{Op: "drop", Position: "p"}},
			code: CodeInvalidCommand, msg: []string{`"drop"`},
		},
		{
			name: "no position", setup: cluster,
			body: &pb.SetBinlogOperator{Task: "t1", SourceId: "s1", Operator: &pb.BinlogOperator{Op: "skip"}},
			code: CodeInvalidCommand, msg: []string{"position"},
		},
		{
			name: "replace without statements", setup: cluster,
			body: &pb.SetBinlogOperator{Task: "t1", SourceId: "s1", Operator: &pb.BinlogOperator{Op: "replace", Position: "p"}},
			code: CodeInvalidCommand, msg: []string{"statements"},
		},
	}
}
