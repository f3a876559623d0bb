package fsm

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// The command table cases of shard DDL infos, locks and operations (see TestCommands).

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
