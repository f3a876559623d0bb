package shardlock

import (
	"fmt"
	"testing"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// cluster is a minimal leader + executors driver over a real FSM.
type cluster struct {
	t     *testing.T
	f     *fsm.FSM
	index uint64
}

func (c *cluster) apply(cmds ...*pb.Command) {
	c.t.Helper()
	for _, cmd := range cmds {
		if cmd == nil {
			continue
		}
		c.index++
		if res := c.f.Apply(c.index, fsm.Encode(cmd)); res.Code != "" {
			c.t.Fatalf("%s rejected: %s %s", describe(cmd), res.Code, res.Message)
		}
	}
}

func (c *cluster) must(cmd *pb.Command, err error) *pb.Command {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	return cmd
}

func (c *cluster) plan() {
	for i := 0; ; i++ {
		cmds := Plan(c.f.View())
		if len(cmds) == 0 {
			return
		}
		if i > 5 {
			c.t.Fatalf("planning does not settle: %v", describe(cmds[0]))
		}
		c.apply(cmds...)
	}
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestPessimisticEveryInterleaving: three shards arrive in every order,
// with the leader planning after any subset of the arrivals, and the
// executors acting in every order: the first arriver owns the lock and is
// the only one to execute, everyone else skips exactly once, and the lock
// goes.
func TestPessimisticEveryInterleaving(t *testing.T) {
	shards := []struct{ src, schema, table string }{{"src1", "s1", "t1"}, {"src1", "s1", "t2"}, {"src2", "s2", "t1"}}
	for _, arrival := range permutations(3) {
		for mask := 0; mask < 8; mask++ {
			for _, acting := range permutations(3) {
				name := fmt.Sprintf("arrive%v/plan%03b/act%v", arrival, mask, acting)
				c := &cluster{t: t, f: fsm.New()}
				c.apply(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "src1"}}, 0),
					fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "src2"}}, 0),
					fsm.NewCommand(pb.CommandType_CREATE_TASK, &pb.CreateTask{
						Task:     &pb.Task{Name: "t", ConfigJson: []byte(`{"name":"t","shard-mode":"pessimistic"}`), SourceIds: []string{"src1", "src2"}},
						Subtasks: []*pb.Subtask{{SourceId: "src1"}, {SourceId: "src2"}}}, 0))
				for _, sh := range shards {
					c.apply(c.mustAll(Register(c.f.View(), "t", sh.src, []Table{{UpSchema: sh.schema, UpTable: sh.table, DownSchema: "db", DownTable: "t"}}))...)
				}
				for i, a := range arrival {
					sh := shards[a]
					c.apply(c.must(ReportInfo(c.f.View(), "t", sh.src, sh.schema, sh.table, []string{"ALTER TABLE db.t ADD COLUMN c INT"})))
					if mask&(1<<i) != 0 {
						c.plan()
					}
				}
				actions := map[int]string{}
				for round := 0; len(c.f.View().ShardLocks) > 0 || round == 0; round++ {
					if round > 10 {
						t.Fatalf("%s: lock never goes", name)
					}
					c.plan()
					for _, a := range acting {
						sh := shards[a]
						op, ok := OperationFor(c.f.View(), "t", sh.src, sh.schema, sh.table)
						if !ok {
							continue
						}
						if actions[a] != "" {
							t.Fatalf("%s: shard %d acted twice", name, a)
						}
						actions[a] = op.Action
						c.apply(c.must(MarkDone(c.f.View(), "t", sh.src, sh.schema, sh.table)))
					}
					c.plan()
				}
				for i, a := range arrival {
					want := ActionSkip
					if i == 0 {
						want = ActionExec
					}
					if actions[a] != want {
						t.Fatalf("%s: shard %d (arrival %d) got %q, want %q", name, a, i, actions[a], want)
					}
				}
			}
		}
	}
}

func (c *cluster) mustAll(cmds []*pb.Command, err error) []*pb.Command {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	return cmds
}

// TestStaleVersionIsRejected: a plan made on an old view cannot overwrite
// a lock that changed since; the next plan starts from the new view.
func TestStaleVersionIsRejected(t *testing.T) {
	c := &cluster{t: t, f: fsm.New()}
	c.apply(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "src1"}}, 0),
		fsm.NewCommand(pb.CommandType_CREATE_TASK, &pb.CreateTask{
			Task:     &pb.Task{Name: "t", ConfigJson: []byte(`{"name":"t","shard-mode":"pessimistic"}`), SourceIds: []string{"src1"}},
			Subtasks: []*pb.Subtask{{SourceId: "src1"}}}, 0))
	c.apply(c.mustAll(Register(c.f.View(), "t", "src1", []Table{{UpSchema: "a", UpTable: "t1", DownSchema: "db", DownTable: "t"}, {UpSchema: "a", UpTable: "t2", DownSchema: "db", DownTable: "t"}}))...)
	c.apply(c.must(ReportInfo(c.f.View(), "t", "src1", "a", "t1", []string{"ALTER TABLE db.t ADD COLUMN c INT"})))
	c.plan()
	old := c.f.View()
	unlock, err := Unlock(old, LockID("t", "db", "t"), false)
	if err != nil || len(unlock) != 1 {
		t.Fatalf("unlock: %v %v", unlock, err)
	}
	c.apply(c.must(ReportInfo(c.f.View(), "t", "src1", "a", "t2", []string{"ALTER TABLE db.t ADD COLUMN c INT"})))
	c.plan() // the lock gets ready: version 2
	c.index++
	if res := c.f.Apply(c.index, fsm.Encode(unlock[0])); res.Code != fsm.CodeStaleRevision {
		t.Fatalf("stale unlock applied: %v", res)
	}
	if l := c.f.View().ShardLocks[LockID("t", "db", "t")]; len(l.Removed) != 0 || !l.Ready {
		t.Fatalf("lock after the stale unlock: %v", l)
	}
}
