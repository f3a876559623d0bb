package fsm

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// The command table cases of tasks and subtasks (see TestCommands).

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
