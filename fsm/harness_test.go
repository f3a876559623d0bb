package fsm

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/dmraft/dmraft/proto"
)

// harness drives one FSM the way raft does: commands are encoded into
// envelopes and applied at consecutive indexes, each stamped with a
// deterministic "leader time" derived from the index.
type harness struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return &harness{t: t, f: New()}
}

// nowAt is the time the test "leader" stamps into the command at index.
func nowAt(index uint64) int64 { return 1_700_000_000_000 + int64(index)*1000 }

// apply applies one command at the next index and returns its result.
func (h *harness) apply(typ pb.CommandType, body proto.Message) *pb.ApplyResult {
	h.t.Helper()
	h.index++
	res := h.f.Apply(h.index, Encode(NewCommand(typ, body, nowAt(h.index))))
	if res.GetIndex() != h.index {
		h.t.Fatalf("%v: result index = %d, want %d", typ, res.GetIndex(), h.index)
	}
	return res
}

// must applies a command that has to succeed.
func (h *harness) must(typ pb.CommandType, body proto.Message) *pb.ApplyResult {
	h.t.Helper()
	res := h.apply(typ, body)
	if res.Code != "" {
		h.t.Fatalf("%v %v: unexpected business error %s: %s", typ, body, res.Code, res.Message)
	}
	return res
}

// ---------------------------------------------------------------------------
// Fixtures. Names are derived from the id so that tests stay short.

func testNode(name string) *pb.Node {
	return &pb.Node{Name: name, Addr: name + ":8261", RaftAddr: name + ":8291", GossipAddr: name + ":8301"}
}

func testSourceConfig(id string) *pb.SourceConfig {
	return &pb.SourceConfig{
		SourceId:          id,
		Host:              id + ".db.internal",
		Port:              3306,
		User:              "dm",
		PasswordEncrypted: "enc:" + id,
		Flavor:            "mariadb",
		EnableGtid:        true,
		ServerId:          4242,
		EnableRelay:       true,
		RawYamlMasked:     "source-id: " + id + "\nfrom:\n  password: '******'\n",
	}
}

func testTask(name string, sources ...string) *pb.Task {
	return &pb.Task{
		Name:       name,
		ConfigJson: []byte(`{"name":"` + name + `"}`),
		SourceIds:  sources,
		TaskMode:   "all",
	}
}

func (h *harness) registerNode(name string) {
	h.t.Helper()
	h.must(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: testNode(name)})
}

func (h *harness) createSource(id string) {
	h.t.Helper()
	h.must(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: testSourceConfig(id)})
}

// bind binds source to node with the next epoch and returns that epoch.
func (h *harness) bind(source, node string) uint64 {
	h.t.Helper()
	epoch := h.f.View().Sources[source].GetEpoch() + 1
	res := h.must(pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: source, Node: node, Epoch: epoch})
	if res.Epoch != epoch {
		h.t.Fatalf("bind %s: result epoch = %d, want %d", source, res.Epoch, epoch)
	}
	return epoch
}

func (h *harness) unbind(source string) {
	h.t.Helper()
	h.must(pb.CommandType_UNBIND_SOURCE, &pb.UnbindSource{SourceId: source})
}

func (h *harness) createTask(name string, sources ...string) {
	h.t.Helper()
	c := &pb.CreateTask{Task: testTask(name, sources...)}
	for _, s := range sources {
		c.Subtasks = append(c.Subtasks, &pb.Subtask{SourceId: s})
	}
	h.must(pb.CommandType_CREATE_TASK, c)
}

func (h *harness) epoch(source string) uint64 { return h.f.View().Bindings[source].GetEpoch() }

// cluster builds the state most command tests start from: nodes n1 and n2,
// sources s1..s3, s1 bound to n1 and s2 bound to n2, task t1 over s1 and s2.
func (h *harness) cluster() {
	h.t.Helper()
	h.registerNode("n1")
	h.registerNode("n2")
	h.createSource("s1")
	h.createSource("s2")
	h.createSource("s3")
	h.bind("s1", "n1")
	h.bind("s2", "n2")
	h.createTask("t1", "s1", "s2")
}

// shardState adds shard-DDL records of task t1 (lock L1 with two
// operations, lock L2 with one) and of task t2 (lock L3 with one).
func (h *harness) shardState() {
	h.t.Helper()
	h.createTask("t2", "s3")
	for _, src := range []string{"s1", "s2"} {
		h.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: &pb.ShardInfo{
			Task: "t1", SourceId: src, UpstreamSchema: "shard", UpstreamTable: "tb", LockId: "L1",
		}})
	}
	h.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: &pb.ShardInfo{
		Task: "t2", SourceId: "s3", UpstreamSchema: "shard", UpstreamTable: "tb", LockId: "L3",
	}})
	for _, l := range []struct{ id, task string }{{"L1", "t1"}, {"L2", "t1"}, {"L3", "t2"}} {
		h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: &pb.ShardLock{Id: l.id, Task: l.task, Mode: "pessimistic"}})
	}
	for _, op := range []struct{ lock, src string }{{"L1", "s1"}, {"L1", "s2"}, {"L2", "s1"}, {"L3", "s3"}} {
		h.must(pb.CommandType_PUT_SHARD_OPERATION, &pb.PutShardOperation{Operation: &pb.ShardOperation{
			LockId: op.lock, SourceId: op.src, UpstreamSchema: "shard", UpstreamTable: "tb", Action: "exec",
		}})
	}
}

// fullState populates every record kind with every field non-zero, through
// commands only. TestFullStateSetsEveryField keeps it complete when fields
// are added to fsm.proto.
func (h *harness) fullState() {
	h.t.Helper()
	h.cluster()
	h.createSource("gone")
	h.bind("gone", "n1")
	h.must(pb.CommandType_REMOVE_SOURCE, &pb.RemoveSource{SourceId: "gone"})
	h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n1", Evict: true})
	h.must(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: testNode("n3")})
	h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n3", Evict: true})
	h.bind("s3", "n3")
	h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n2", Evict: true})
	h.must(pb.CommandType_UPDATE_TASK, &pb.UpdateTask{Task: &pb.Task{
		Name: "t1", Revision: 2, ConfigJson: []byte(`{"name":"t1","v":2}`), SourceIds: []string{"s1", "s2"}, TaskMode: "incremental",
	}})
	for _, src := range []string{"s1", "s2"} {
		for _, unit := range []string{"dump", "load"} {
			h.must(pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{
				Task: "t1", SourceId: src, Epoch: h.epoch(src),
				Mark: &pb.UnitMark{Unit: unit, Position: &pb.BinlogPosition{Name: "mysql-bin.000003", Pos: 1234, GtidSet: "0-1-99"}},
			})
		}
		h.must(pb.CommandType_REPORT_SUBTASK_ERROR, &pb.ReportSubtaskError{
			Task: "t1", SourceId: src, Epoch: h.epoch(src),
			Error: &pb.SubtaskError{Code: "38032", Class: "sync-unit", Message: "duplicate entry", Workaround: "check the target", Unit: "sync", Revision: 2,
				BinlogPosition: "mysql-bin.000003:4567"},
		})
		h.must(pb.CommandType_SET_BINLOG_OPERATOR, &pb.SetBinlogOperator{Task: "t1", SourceId: src, Operator: &pb.BinlogOperator{
			Op: "replace", Position: "mysql-bin.000003:4567", Statements: []string{"ALTER TABLE tb ADD c BIGINT"},
		}})
	}
	h.must(pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: &pb.ShardInfo{
		Task: "t1", SourceId: "s1", UpstreamSchema: "shard_1", UpstreamTable: "tb_1",
		DownstreamSchema: "shard", DownstreamTable: "tb", Ddls: []string{"ALTER TABLE tb ADD c INT"},
		TableInfoBefore: []byte("before"), TableInfosAfter: [][]byte{[]byte("after")}, Revision: 3, LockId: "t1-`shard`.`tb`",
		DoneRevision: 2,
	}})
	h.must(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: &pb.ShardLock{
		Id: "t1-`shard`.`tb`", Task: "t1", Mode: "optimistic", OwnerSource: "s1",
		DownstreamSchema: "shard", DownstreamTable: "tb", Ddls: []string{"ALTER TABLE tb ADD c INT"},
		Synced:          map[string]bool{"s1/shard_1.tb_1": true, "s2/shard_2.tb_2": false, "s2/shard_2.tb_3": true},
		JoinedTableInfo: []byte("joined"), Resolved: true,
		ConflictMessage: "none", Removed: []string{"s3/shard_3.tb_1"}, Ready: true, Version: 1, Owner: "s1/shard_1.tb_1",
	}})
	h.must(pb.CommandType_PUT_SHARD_OPERATION, &pb.PutShardOperation{Operation: &pb.ShardOperation{
		LockId: "t1-`shard`.`tb`", SourceId: "s1", UpstreamSchema: "shard_1", UpstreamTable: "tb_1",
		Ddls: []string{"ALTER TABLE tb ADD c INT"}, Action: "exec", Done: true, ConflictMessage: "none", Revision: 3,
	}})
}

// ---------------------------------------------------------------------------
// Comparing views.

// copyView returns a deep copy of v that shares nothing with it.
func copyView(v *View) *View {
	c := emptyView()
	c.Index = v.Index
	deepCopyMap(c.Nodes, v.Nodes)
	deepCopyMap(c.Sources, v.Sources)
	deepCopyMap(c.Bindings, v.Bindings)
	deepCopyMap(c.Tasks, v.Tasks)
	deepCopyMap(c.Subtasks, v.Subtasks)
	deepCopyMap(c.ShardInfos, v.ShardInfos)
	deepCopyMap(c.ShardLocks, v.ShardLocks)
	deepCopyMap(c.ShardOperations, v.ShardOperations)
	for id, e := range v.RetiredEpochs {
		c.RetiredEpochs[id] = e
	}
	return c
}

// retiredDiff compares the epochs kept for removed sources (part of the
// sources kind).
func retiredDiff(want, got map[string]uint64) []string {
	var diffs []string
	for id, e := range want {
		if got[id] != e {
			diffs = append(diffs, fmt.Sprintf("retired epoch of %s: want %d, got %d", id, e, got[id]))
		}
	}
	for id, e := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("retired epoch of %s: unexpected %d", id, e))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func deepCopyMap[K comparable, V proto.Message](dst, src map[K]V) {
	for k, m := range src {
		dst[k] = proto.Clone(m).(V)
	}
}

// Record kinds, as used by kindDiffs and requireUnchangedExcept.
const (
	kindNodes           = "nodes"
	kindSources         = "sources"
	kindBindings        = "bindings"
	kindTasks           = "tasks"
	kindSubtasks        = "subtasks"
	kindShardInfos      = "shard infos"
	kindShardLocks      = "shard locks"
	kindShardOperations = "shard operations"
)

// kindDiffs compares two views record by record (keys and proto.Equal) and
// returns the differences per record kind; kinds without any are absent.
func kindDiffs(want, got *View) map[string][]string {
	out := map[string][]string{}
	add := func(kind string, diffs []string) {
		if len(diffs) > 0 {
			out[kind] = diffs
		}
	}
	add(kindNodes, mapDiff(kindNodes, want.Nodes, got.Nodes))
	add(kindSources, append(mapDiff(kindSources, want.Sources, got.Sources), retiredDiff(want.RetiredEpochs, got.RetiredEpochs)...))
	add(kindBindings, mapDiff(kindBindings, want.Bindings, got.Bindings))
	add(kindTasks, mapDiff(kindTasks, want.Tasks, got.Tasks))
	add(kindSubtasks, mapDiff(kindSubtasks, want.Subtasks, got.Subtasks))
	add(kindShardInfos, mapDiff(kindShardInfos, want.ShardInfos, got.ShardInfos))
	add(kindShardLocks, mapDiff(kindShardLocks, want.ShardLocks, got.ShardLocks))
	add(kindShardOperations, mapDiff(kindShardOperations, want.ShardOperations, got.ShardOperations))
	return out
}

// viewDiff lists every difference between two views, the index included.
// Empty means equal.
func viewDiff(want, got *View) []string {
	var diffs []string
	if want.Index != got.Index {
		diffs = append(diffs, fmt.Sprintf("index: want %d, got %d", want.Index, got.Index))
	}
	byKind := kindDiffs(want, got)
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		diffs = append(diffs, byKind[k]...)
	}
	return diffs
}

// requireUnchangedExcept checks that every record kind other than changed
// is the same in before and after.
func requireUnchangedExcept(t testing.TB, before, after *View, changed ...string) {
	t.Helper()
	var unexpected []string
	for kind, diffs := range kindDiffs(before, after) {
		if !slices.Contains(changed, kind) {
			unexpected = append(unexpected, diffs...)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		t.Fatalf("records changed that the command must not touch:\n%s", strings.Join(unexpected, "\n"))
	}
}

// requireProto fails unless want and got are proto.Equal.
func requireProto(t testing.TB, what string, want, got proto.Message) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Fatalf("%s:\n\twant %v\n\tgot  %v", what, want, got)
	}
}

func mapDiff[K comparable, V proto.Message](kind string, want, got map[K]V) []string {
	var diffs []string
	for k, w := range want {
		g, found := got[k]
		switch {
		case !found:
			diffs = append(diffs, fmt.Sprintf("%s[%v]: missing, want %v", kind, k, w))
		case !proto.Equal(w, g):
			diffs = append(diffs, fmt.Sprintf("%s[%v]:\n\twant %v\n\tgot  %v", kind, k, w, g))
		}
	}
	for k, g := range got {
		if _, found := want[k]; !found {
			diffs = append(diffs, fmt.Sprintf("%s[%v]: unexpected %v", kind, k, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func requireViewsEqual(t testing.TB, want, got *View) {
	t.Helper()
	if diffs := viewDiff(want, got); len(diffs) > 0 {
		t.Fatalf("views differ:\n%s", strings.Join(diffs, "\n"))
	}
}

// requireOnlyIndexChanged checks that after is before with a new index: what
// every business error must leave behind.
func requireOnlyIndexChanged(t testing.TB, before, after *View, index uint64) {
	t.Helper()
	if after.Index != index {
		t.Fatalf("applied index = %d, want %d", after.Index, index)
	}
	want := copyView(before)
	want.Index = index
	if diffs := viewDiff(want, after); len(diffs) > 0 {
		t.Fatalf("a business error changed the state:\n%s", strings.Join(diffs, "\n"))
	}
}

// requireAllFieldsSet fails for every field of m, recursively, that holds
// its zero value (or is an empty list or map).
func requireAllFieldsSet(t testing.TB, m proto.Message) {
	t.Helper()
	var missing []string
	walkUnset(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()), &missing)
	if len(missing) > 0 {
		t.Fatalf("fields left at their zero value (extend the fixture):\n%s", strings.Join(missing, "\n"))
	}
}

func walkUnset(m protoreflect.Message, path string, missing *[]string) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		p := path + "." + string(fd.Name())
		if !m.Has(fd) {
			*missing = append(*missing, p)
			continue
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					walkUnset(v.Message(), p+"["+k.String()+"]", missing)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				l := m.Get(fd).List()
				for j := 0; j < l.Len(); j++ {
					walkUnset(l.Get(j).Message(), fmt.Sprintf("%s[%d]", p, j), missing)
				}
			}
		case fd.Message() != nil:
			walkUnset(m.Get(fd).Message(), p, missing)
		}
	}
}
