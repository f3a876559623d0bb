package shardlock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// TestLoopDrivesALock: the leader loop over a real FSM takes a lock from
// the first arrival to its removal while executors report and finish.
func TestLoopDrivesALock(t *testing.T) {
	f := fsm.New()
	var mu sync.Mutex
	index := uint64(0)
	propose := func(_ context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
		mu.Lock()
		defer mu.Unlock()
		index++
		return f.Apply(index, fsm.Encode(cmd)), nil
	}
	must := func(cmds ...*pb.Command) {
		t.Helper()
		for _, cmd := range cmds {
			if res, _ := propose(context.Background(), cmd); res.Code != "" {
				t.Fatalf("%s: %s", res.Code, res.Message)
			}
		}
	}
	must(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "s1"}}, 0),
		fsm.NewCommand(pb.CommandType_CREATE_TASK, &pb.CreateTask{
			Task:     &pb.Task{Name: "t", ConfigJson: []byte(`{"name":"t","shard-mode":"pessimistic"}`), SourceIds: []string{"s1"}},
			Subtasks: []*pb.Subtask{{SourceId: "s1"}}}, 0))
	reg, _ := Register(f.View(), "t", "s1", []Table{{UpSchema: "a", UpTable: "t1", DownSchema: "db", DownTable: "t"}, {UpSchema: "a", UpTable: "t2", DownSchema: "db", DownTable: "t"}})
	must(reg...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	loop := &Loop{View: f.View, Changed: f.Changed, Propose: propose, IsLeader: func() bool { return true },
		Tick: 10 * time.Millisecond, Logger: zerolog.Nop()}
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()

	for _, tbl := range []string{"t1", "t2"} {
		cmd, err := ReportInfo(f.View(), "t", "s1", "a", tbl, []string{"ALTER TABLE db.t ADD COLUMN c INT"})
		if err != nil {
			t.Fatal(err)
		}
		must(cmd)
	}
	actions := map[string]string{}
	for len(actions) < 2 {
		for _, tbl := range []string{"t1", "t2"} {
			if op, ok := OperationFor(f.View(), "t", "s1", "a", tbl); ok && actions[tbl] == "" {
				actions[tbl] = op.Action
				cmd, err := MarkDone(f.View(), "t", "s1", "a", tbl)
				if err != nil {
					t.Fatal(err)
				}
				must(cmd)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no operations: %v", actions)
		case <-time.After(5 * time.Millisecond):
		}
	}
	for len(f.View().ShardLocks) > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if actions["t1"] != ActionExec || actions["t2"] != ActionSkip || len(f.View().ShardLocks) != 0 {
		t.Fatalf("actions %v, locks %v", actions, f.View().ShardLocks)
	}
}
