package fsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// logGenerator produces a seeded random log over small name pools, so that
// names collide and most business errors happen. It looks at the current
// view to make about two thirds of the epoch- and revision-bearing commands
// valid; the rest are stale or from the future.
type logGenerator struct {
	r *rand.Rand
}

func newLogGenerator(seed uint64) *logGenerator {
	return &logGenerator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *logGenerator) pick(names ...string) string { return names[g.r.IntN(len(names))] }
func (g *logGenerator) node() string                { return g.pick("n0", "n1", "n2", "n3") }
func (g *logGenerator) source() string              { return g.pick("s0", "s1", "s2", "s3", "s4") }
func (g *logGenerator) task() string                { return g.pick("t0", "t1", "t2") }
func (g *logGenerator) lock() string                { return g.pick("L0", "L1", "L2") }
func (g *logGenerator) unit() string {
	return g.pick("dump", "load", "sync", "dump", "load", "sync", "")
}
func (g *logGenerator) table() string { return g.pick("tb1", "tb2") }
func (g *logGenerator) valid() bool   { return g.r.IntN(3) > 0 }

// skew returns n most of the time and a nearby wrong value otherwise.
func (g *logGenerator) skew(n uint64) uint64 {
	if g.valid() {
		return n
	}
	return uint64(max(0, int64(n)+int64(g.r.IntN(5))-2))
}

// subtask picks an existing subtask most of the time (in sorted order, so
// the log depends on the seed only), or any task and source otherwise.
func (g *logGenerator) subtask(v *View) (task, source string) {
	if len(v.Subtasks) == 0 || !g.valid() {
		return g.task(), g.source()
	}
	var keys []SubtaskKey
	for _, name := range v.TaskNames() {
		for _, st := range v.SubtasksOfTask(name) {
			keys = append(keys, SubtaskKey{name, st.SourceId})
		}
	}
	k := keys[g.r.IntN(len(keys))]
	return k.Task, k.Source
}

func (g *logGenerator) sources() []string {
	var out []string
	for _, s := range []string{"s0", "s1", "s2", "s3", "s4"} {
		if g.r.IntN(3) == 0 {
			out = append(out, s)
		}
	}
	if g.r.IntN(10) == 0 {
		out = append(out, "s9") // unknown
	}
	return out
}

func (g *logGenerator) next(v *View) (pb.CommandType, proto.Message) {
	typ := pb.CommandType(1 + g.r.IntN(len(registry)))
	switch typ {
	case pb.CommandType_REMOVE_NODE, pb.CommandType_REMOVE_SOURCE, pb.CommandType_REMOVE_TASK, pb.CommandType_UNBIND_SOURCE:
		if g.r.IntN(2) == 0 { // removals less often, so that state builds up
			typ = pb.CommandType(1 + g.r.IntN(len(registry)))
		}
	}
	switch typ {
	case pb.CommandType_REGISTER_NODE:
		n := testNode(g.node())
		if !g.valid() { // clash with another member's address
			other := testNode(g.node())
			switch g.r.IntN(3) {
			case 0:
				n.RaftAddr = other.RaftAddr
			case 1:
				n.Addr = other.Addr
			default:
				n.GossipAddr = other.GossipAddr
			}
		}
		return typ, &pb.RegisterNode{Node: n}
	case pb.CommandType_REMOVE_NODE:
		return typ, &pb.RemoveNode{Name: g.node()}
	case pb.CommandType_CREATE_SOURCE:
		return typ, &pb.CreateSource{Config: testSourceConfig(g.source())}
	case pb.CommandType_REMOVE_SOURCE:
		return typ, &pb.RemoveSource{SourceId: g.source()}
	case pb.CommandType_BIND_SOURCE:
		s := g.source()
		if g.valid() { // prefer an unbound source
			for _, id := range v.SourceIDs() {
				if _, bound := v.Bindings[id]; !bound {
					s = id
					break
				}
			}
		}
		return typ, &pb.BindSource{SourceId: s, Node: g.node(), Epoch: g.skew(v.Sources[s].GetEpoch() + 1)}
	case pb.CommandType_UNBIND_SOURCE:
		s := g.source()
		return typ, &pb.UnbindSource{SourceId: s, Epoch: g.skew(v.Bindings[s].GetEpoch())}
	case pb.CommandType_CREATE_TASK:
		c := &pb.CreateTask{Task: testTask(g.task())}
		for _, s := range g.sources() {
			c.Task.SourceIds = append(c.Task.SourceIds, s)
			c.Subtasks = append(c.Subtasks, &pb.Subtask{SourceId: s})
		}
		return typ, c
	case pb.CommandType_UPDATE_TASK:
		name := g.task()
		t := testTask(name, "s0")
		t.Revision = g.skew(v.Tasks[name].GetRevision() + 1)
		t.ConfigJson = fmt.Appendf(nil, `{"r":%d}`, g.r.IntN(100))
		return typ, &pb.UpdateTask{Task: t}
	case pb.CommandType_REMOVE_TASK:
		return typ, &pb.RemoveTask{Name: g.task()}
	case pb.CommandType_SET_SUBTASK_STAGE:
		var ids []string
		if g.r.IntN(2) == 0 {
			ids = g.sources()
		}
		return typ, &pb.SetSubtaskStage{Task: g.task(), SourceIds: ids, Stage: pb.Stage(1 + g.r.IntN(3))}
	case pb.CommandType_MARK_UNIT_FINISHED:
		task, s := g.subtask(v)
		return typ, &pb.MarkUnitFinished{
			Task: task, SourceId: s, Epoch: g.skew(v.Bindings[s].GetEpoch()),
			Mark: &pb.UnitMark{Unit: g.unit(), Position: &pb.BinlogPosition{Name: "bin.1", Pos: uint32(g.r.IntN(1000))}},
		}
	case pb.CommandType_REPORT_SUBTASK_ERROR:
		task, s := g.subtask(v)
		c := &pb.ReportSubtaskError{Task: task, SourceId: s, Epoch: g.skew(v.Bindings[s].GetEpoch()), Pause: g.r.IntN(2) == 0}
		if g.r.IntN(4) > 0 {
			c.Error = &pb.SubtaskError{Code: fmt.Sprint(g.r.IntN(50)), Message: "boom", Unit: g.unit()}
		}
		return typ, c
	case pb.CommandType_SET_LEADER_EVICTION:
		return typ, &pb.SetLeaderEviction{Node: g.node(), Evict: g.r.IntN(2) == 0}
	case pb.CommandType_PUT_SHARD_INFO:
		info := &pb.ShardInfo{Task: g.task(), SourceId: g.source(), UpstreamSchema: "db", UpstreamTable: g.table(), LockId: g.lock(), Revision: uint64(g.r.IntN(5))}
		if !g.valid() {
			info.SourceId = ""
		}
		return typ, &pb.PutShardInfo{Info: info}
	case pb.CommandType_PUT_SHARD_LOCK:
		l := &pb.ShardLock{Id: g.lock(), Task: g.task(), Synced: map[string]bool{g.source(): true, g.source(): false}, Resolved: g.r.IntN(2) == 0}
		if g.r.IntN(8) == 0 {
			l.Id = ""
		}
		return typ, &pb.PutShardLock{Lock: l}
	case pb.CommandType_PUT_SHARD_OPERATION:
		op := &pb.ShardOperation{LockId: g.lock(), SourceId: g.source(), UpstreamSchema: "db", UpstreamTable: g.table(), Done: g.r.IntN(2) == 0}
		if g.r.IntN(8) == 0 {
			op.LockId = ""
		}
		return typ, &pb.PutShardOperation{Operation: op}
	case pb.CommandType_REMOVE_SHARD_LOCK:
		return typ, &pb.RemoveShardLock{Id: g.lock()}
	case pb.CommandType_REMOVE_SHARD_INFO:
		c := &pb.RemoveShardInfo{Task: g.task(), SourceId: g.source(), UpstreamSchema: "db", UpstreamTable: g.table()}
		if !g.valid() {
			c.UpstreamTable = ""
		}
		return typ, c
	case pb.CommandType_SET_BINLOG_OPERATOR:
		task, s := g.subtask(v)
		c := &pb.SetBinlogOperator{Task: task, SourceId: s}
		if g.r.IntN(4) > 0 {
			c.Operator = &pb.BinlogOperator{Op: []string{"skip", "replace", "bogus"}[g.r.IntN(3)], Position: fmt.Sprintf("bin.1:%d", g.r.IntN(1000))}
			if g.r.IntN(2) == 0 {
				c.Operator.Statements = []string{"ALTER TABLE t ADD c INT"}
			}
		}
		return typ, c
	}
	panic(fmt.Sprintf("logGenerator: no generator for %v", typ))
}

// generateLog applies n generated commands to a fresh FSM and returns the
// encoded log (entry i at index i+1) with the results.
func generateLog(t *testing.T, seed uint64, n int) ([][]byte, []*pb.ApplyResult) {
	t.Helper()
	g, f := newLogGenerator(seed), New()
	log := make([][]byte, 0, n)
	results := make([]*pb.ApplyResult, 0, n)
	for i := 1; i <= n; i++ {
		typ, body := g.next(f.View())
		entry := Encode(NewCommand(typ, body, nowAt(uint64(i))))
		log = append(log, entry)
		results = append(results, f.Apply(uint64(i), entry))
	}
	return log, results
}

// checkInvariants fails on a state that no log may produce.
func checkInvariants(t *testing.T, v *View) {
	t.Helper()
	for id, b := range v.Bindings {
		src, found := v.Sources[id]
		if !found || b.SourceId != id {
			t.Fatalf("binding %v of a missing source", b)
		}
		if _, found := v.Nodes[b.Node]; !found {
			t.Fatalf("binding %v on a missing node", b)
		}
		if b.Epoch != src.Epoch || src.LastNode != b.Node {
			t.Fatalf("binding %v, but the source is at epoch %d on %q", b, src.Epoch, src.LastNode)
		}
	}
	for k, st := range v.Subtasks {
		task, found := v.Tasks[k.Task]
		if !found {
			t.Fatalf("subtask %v of a missing task", k)
		}
		if _, found := v.Sources[k.Source]; !found {
			t.Fatalf("subtask %v of a missing source", k)
		}
		if st.Revision != task.Revision || st.Task != k.Task || st.SourceId != k.Source {
			t.Fatalf("subtask %v = %v, task revision %d", k, st, task.Revision)
		}
		units := map[string]bool{}
		for _, m := range st.FinishedUnits {
			if units[m.Unit] {
				t.Fatalf("subtask %v marks unit %q twice", k, m.Unit)
			}
			units[m.Unit] = true
		}
	}
	for k, info := range v.ShardInfos {
		if k != ShardInfoKey(info.Task, info.SourceId, info.UpstreamSchema, info.UpstreamTable) {
			t.Fatalf("shard info under key %q: %v", k, info)
		}
	}
}

// TestDeterministicReplay applies the same seeded log to two FSMs: results
// and views must be equal after every entry (Go randomizes map iteration, so
// an apply function whose outcome depends on it fails here). A replay from
// a snapshot taken at the midpoint must end in the same state.
func TestDeterministicReplay(t *testing.T) {
	const n = 2000
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			log, results := generateLog(t, seed, n)

			a, b := New(), New()
			epochs := map[string]uint64{}
			seen := map[pb.CommandType][2]int{} // successes, errors
			for i, entry := range log {
				index := uint64(i + 1)
				ra, rb := a.Apply(index, entry), b.Apply(index, entry)
				if !proto.Equal(ra, rb) || !proto.Equal(ra, results[i]) {
					t.Fatalf("entry %d: results differ: %v / %v / %v", index, ra, rb, results[i])
				}
				va, vb := a.View(), b.View()
				if diffs := viewDiff(va, vb); len(diffs) > 0 {
					t.Fatalf("entry %d: views differ: %v", index, diffs)
				}
				if va.Index != index {
					t.Fatalf("entry %d: applied index %d", index, va.Index)
				}
				checkInvariants(t, va)
				// A source's epoch never goes down while it exists.
				for id := range epochs {
					if _, found := va.Sources[id]; !found {
						delete(epochs, id)
					}
				}
				for id, src := range va.Sources {
					if src.Epoch < epochs[id] {
						t.Fatalf("entry %d: epoch of %s went down from %d to %d", index, id, epochs[id], src.Epoch)
					}
					epochs[id] = src.Epoch
				}
				var cmd pb.Command
				if err := proto.Unmarshal(entry, &cmd); err != nil {
					t.Fatal(err)
				}
				c := seen[cmd.Type]
				if ra.Code == "" {
					c[0]++
				} else {
					c[1]++
				}
				seen[cmd.Type] = c
			}
			t.Logf("per type (successes, errors): %v", seen)
			// The log is only worth something if it mixes valid and invalid
			// commands of every type.
			for typ := range registry {
				if seen[typ][0] == 0 || seen[typ][1] == 0 {
					t.Errorf("%v: %d successes, %d errors; the generator must produce both", typ, seen[typ][0], seen[typ][1])
				}
			}

			// Snapshot at the midpoint, restore, apply the rest.
			half := New()
			for i, entry := range log[:n/2] {
				half.Apply(uint64(i+1), entry)
			}
			resumed := roundTrip(t, half)
			for i, entry := range log[n/2:] {
				index := uint64(n/2 + i + 1)
				if res := resumed.Apply(index, entry); !proto.Equal(res, results[index-1]) {
					t.Fatalf("entry %d after restore: %v, want %v", index, res, results[index-1])
				}
			}
			requireViewsEqual(t, a.View(), resumed.View())
			if !bytes.Equal(persist(t, a.Snapshot()), persist(t, resumed.Snapshot())) {
				t.Fatal("straight replay and snapshot+replay persist to different bytes")
			}
		})
	}
}

// TestResultsAreDeterministic: the same command on the same state gives
// the same result, message included, whatever the map iteration order. Here
// the new node's name clashes with n1 and its raft address with n2.
func TestResultsAreDeterministic(t *testing.T) {
	cmd := &pb.RegisterNode{Node: withAddrs("n1", "", "n2:8291", "")}
	var first *pb.ApplyResult
	for i := 0; i < 50; i++ {
		h := newHarness(t)
		for _, n := range []string{"n1", "n2", "n3", "n4", "n5", "n6"} {
			h.registerNode(n)
		}
		res := h.apply(pb.CommandType_REGISTER_NODE, cmd)
		if res.Code != CodeNodeExists {
			t.Fatalf("result %v", res)
		}
		if first == nil {
			first = res
		} else if !proto.Equal(first, res) {
			t.Fatalf("same command, same state, different results:\n%v\n%v", first, res)
		}
	}
}
