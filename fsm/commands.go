package fsm

import (
	"maps"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

func init() {
	register(pb.CommandType_REGISTER_NODE, func() *pb.RegisterNode { return &pb.RegisterNode{} }, applyRegisterNode)
	register(pb.CommandType_REMOVE_NODE, func() *pb.RemoveNode { return &pb.RemoveNode{} }, applyRemoveNode)
	register(pb.CommandType_CREATE_SOURCE, func() *pb.CreateSource { return &pb.CreateSource{} }, applyCreateSource)
	register(pb.CommandType_REMOVE_SOURCE, func() *pb.RemoveSource { return &pb.RemoveSource{} }, applyRemoveSource)
	register(pb.CommandType_BIND_SOURCE, func() *pb.BindSource { return &pb.BindSource{} }, applyBindSource)
	register(pb.CommandType_UNBIND_SOURCE, func() *pb.UnbindSource { return &pb.UnbindSource{} }, applyUnbindSource)
	register(pb.CommandType_CREATE_TASK, func() *pb.CreateTask { return &pb.CreateTask{} }, applyCreateTask)
	register(pb.CommandType_UPDATE_TASK, func() *pb.UpdateTask { return &pb.UpdateTask{} }, applyUpdateTask)
	register(pb.CommandType_REMOVE_TASK, func() *pb.RemoveTask { return &pb.RemoveTask{} }, applyRemoveTask)
	register(pb.CommandType_SET_SUBTASK_STAGE, func() *pb.SetSubtaskStage { return &pb.SetSubtaskStage{} }, applySetSubtaskStage)
	register(pb.CommandType_MARK_UNIT_FINISHED, func() *pb.MarkUnitFinished { return &pb.MarkUnitFinished{} }, applyMarkUnitFinished)
	register(pb.CommandType_REPORT_SUBTASK_ERROR, func() *pb.ReportSubtaskError { return &pb.ReportSubtaskError{} }, applyReportSubtaskError)
	register(pb.CommandType_SET_LEADER_EVICTION, func() *pb.SetLeaderEviction { return &pb.SetLeaderEviction{} }, applySetLeaderEviction)
	register(pb.CommandType_PUT_SHARD_INFO, func() *pb.PutShardInfo { return &pb.PutShardInfo{} }, applyPutShardInfo)
	register(pb.CommandType_PUT_SHARD_LOCK, func() *pb.PutShardLock { return &pb.PutShardLock{} }, applyPutShardLock)
	register(pb.CommandType_PUT_SHARD_OPERATION, func() *pb.PutShardOperation { return &pb.PutShardOperation{} }, applyPutShardOperation)
	register(pb.CommandType_REMOVE_SHARD_LOCK, func() *pb.RemoveShardLock { return &pb.RemoveShardLock{} }, applyRemoveShardLock)
	register(pb.CommandType_SET_BINLOG_OPERATOR, func() *pb.SetBinlogOperator { return &pb.SetBinlogOperator{} }, applySetBinlogOperator)
	register(pb.CommandType_REMOVE_SHARD_INFO, func() *pb.RemoveShardInfo { return &pb.RemoveShardInfo{} }, applyRemoveShardInfo)
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

func applyRegisterNode(v *View, c *pb.RegisterNode, now int64) *pb.ApplyResult {
	n := c.GetNode()
	if n.GetName() == "" || n.GetRaftAddr() == "" {
		return fail(CodeInvalidCommand, "a node needs a name and a raft address")
	}
	if other, found := v.Nodes[n.Name]; found {
		if other.RaftAddr == n.RaftAddr && other.Addr == n.Addr && other.GossipAddr == n.GossipAddr {
			return ok() // the same node registering again: nothing to change
		}
		return fail(CodeNodeExists, "node name %q is already used by the member at %s", n.Name, other.RaftAddr)
	}
	// Sorted, so that the message names the same member on every replica.
	for _, name := range sortedKeys(v.Nodes) {
		other := v.Nodes[name]
		if other.RaftAddr == n.RaftAddr || (n.Addr != "" && other.Addr == n.Addr) || (n.GossipAddr != "" && other.GossipAddr == n.GossipAddr) {
			return fail(CodeNodeExists, "an address of node %q is already used by member %q", n.Name, other.Name)
		}
	}
	n = clone(n)
	n.JoinedUnixMs = now
	v.Nodes[n.Name] = n
	return ok()
}

func applyRemoveNode(v *View, c *pb.RemoveNode, _ int64) *pb.ApplyResult {
	if _, found := v.Nodes[c.Name]; !found {
		return fail(CodeNodeNotFound, "no member named %q", c.Name)
	}
	delete(v.Nodes, c.Name)
	maps.DeleteFunc(v.Bindings, func(_ string, b *pb.Binding) bool { return b.Node == c.Name })
	return ok()
}

func applyCreateSource(v *View, c *pb.CreateSource, now int64) *pb.ApplyResult {
	cfg := c.GetConfig()
	if cfg.GetSourceId() == "" {
		return fail(CodeInvalidCommand, "a source needs a source-id")
	}
	if _, found := v.Sources[cfg.SourceId]; found {
		return fail(CodeSourceExists, "source %q already exists; stop it first with `operate-source stop %s`", cfg.SourceId, cfg.SourceId)
	}
	// A source created again continues from its last epoch.
	v.Sources[cfg.SourceId] = &pb.Source{Config: clone(cfg), Enabled: true, CreatedUnixMs: now, Epoch: v.RetiredEpochs[cfg.SourceId]}
	delete(v.RetiredEpochs, cfg.SourceId)
	return ok()
}

func applyRemoveSource(v *View, c *pb.RemoveSource, _ int64) *pb.ApplyResult {
	src, found := v.Sources[c.SourceId]
	if !found {
		return fail(CodeSourceNotFound, "source %q does not exist", c.SourceId)
	}
	if tasks := v.TasksUsingSource(c.SourceId); len(tasks) > 0 {
		return fail(CodeSourceInUse, "source %q is used by task(s) %v; stop them first with `stop-task`", c.SourceId, tasks)
	}
	if src.Epoch > 0 {
		v.RetiredEpochs[c.SourceId] = src.Epoch
	}
	delete(v.Sources, c.SourceId)
	delete(v.Bindings, c.SourceId)
	return ok()
}

func applyBindSource(v *View, c *pb.BindSource, now int64) *pb.ApplyResult {
	src, found := v.Sources[c.SourceId]
	if !found {
		return fail(CodeSourceNotFound, "source %q does not exist", c.SourceId)
	}
	if _, found := v.Nodes[c.Node]; !found {
		return fail(CodeNodeNotFound, "no member named %q", c.Node)
	}
	if c.Epoch != src.Epoch+1 {
		return fail(CodeStaleEpoch, "bind %s with epoch %d, but the next epoch is %d", c.SourceId, c.Epoch, src.Epoch+1)
	}
	src = clone(src)
	src.Epoch = c.Epoch
	src.LastNode = c.Node
	v.Sources[c.SourceId] = src
	v.Bindings[c.SourceId] = &pb.Binding{SourceId: c.SourceId, Node: c.Node, Epoch: c.Epoch, BoundUnixMs: now}
	return &pb.ApplyResult{Epoch: c.Epoch}
}

func applyUnbindSource(v *View, c *pb.UnbindSource, _ int64) *pb.ApplyResult {
	b, found := v.Bindings[c.SourceId]
	if !found {
		return fail(CodeSourceNotFound, "source %q is not bound", c.SourceId)
	}
	if c.Epoch != 0 && b.Epoch != c.Epoch {
		return fail(CodeStaleEpoch, "unbind %s at epoch %d, but it is bound at epoch %d", c.SourceId, c.Epoch, b.Epoch)
	}
	delete(v.Bindings, c.SourceId)
	return ok()
}

func applyCreateTask(v *View, c *pb.CreateTask, now int64) *pb.ApplyResult {
	t := c.GetTask()
	if t.GetName() == "" || len(c.Subtasks) == 0 {
		return fail(CodeInvalidCommand, "a task needs a name and at least one source")
	}
	if _, found := v.Tasks[t.Name]; found {
		return fail(CodeTaskExists, "task %q already exists; use `update-task` to change it or `stop-task %s` first", t.Name, t.Name)
	}
	for _, st := range c.Subtasks {
		if _, found := v.Sources[st.SourceId]; !found {
			return fail(CodeSourceNotFound, "task %q names source %q, which does not exist; create it with `operate-source create`", t.Name, st.SourceId)
		}
	}
	t = clone(t)
	if t.Revision == 0 {
		t.Revision = 1
	}
	t.CreatedUnixMs, t.UpdatedUnixMs = now, now
	v.Tasks[t.Name] = t
	for _, st := range c.Subtasks {
		st = clone(st)
		st.Task = t.Name
		st.Revision = t.Revision
		if st.DesiredStage == pb.Stage_STAGE_UNSPECIFIED {
			st.DesiredStage = pb.Stage_RUNNING
		}
		st.UpdatedUnixMs = now
		v.Subtasks[SubtaskKey{t.Name, st.SourceId}] = st
	}
	return ok()
}

func applyUpdateTask(v *View, c *pb.UpdateTask, now int64) *pb.ApplyResult {
	t := c.GetTask()
	old, found := v.Tasks[t.GetName()]
	if !found {
		return fail(CodeTaskNotFound, "task %q does not exist", t.GetName())
	}
	if t.Revision != old.Revision+1 {
		return fail(CodeStaleRevision, "update task %q to revision %d, but it is at revision %d", t.Name, t.Revision, old.Revision)
	}
	t = clone(t)
	t.CreatedUnixMs, t.UpdatedUnixMs = old.CreatedUnixMs, now
	v.Tasks[t.Name] = t
	for _, st := range v.SubtasksOfTask(t.Name) {
		st = clone(st)
		st.Revision = t.Revision
		st.UpdatedUnixMs = now
		v.Subtasks[SubtaskKey{t.Name, st.SourceId}] = st
	}
	return ok()
}

func applyRemoveTask(v *View, c *pb.RemoveTask, _ int64) *pb.ApplyResult {
	if _, found := v.Tasks[c.Name]; !found {
		return fail(CodeTaskNotFound, "task %q does not exist", c.Name)
	}
	delete(v.Tasks, c.Name)
	maps.DeleteFunc(v.Subtasks, func(k SubtaskKey, _ *pb.Subtask) bool { return k.Task == c.Name })
	maps.DeleteFunc(v.ShardInfos, func(_ string, info *pb.ShardInfo) bool { return info.Task == c.Name })
	for id, lock := range v.ShardLocks {
		if lock.Task == c.Name {
			removeShardLock(v, id)
		}
	}
	return ok()
}

func applySetSubtaskStage(v *View, c *pb.SetSubtaskStage, now int64) *pb.ApplyResult {
	if _, found := v.Tasks[c.Task]; !found {
		return fail(CodeTaskNotFound, "task %q does not exist", c.Task)
	}
	var targets []*pb.Subtask
	if len(c.SourceIds) == 0 {
		targets = v.SubtasksOfTask(c.Task)
	} else {
		for _, id := range c.SourceIds {
			st, found := v.Subtasks[SubtaskKey{c.Task, id}]
			if !found {
				return fail(CodeSubtaskNotFound, "task %q has no subtask on source %q", c.Task, id)
			}
			targets = append(targets, st)
		}
	}
	for _, st := range targets {
		st = clone(st)
		st.DesiredStage = c.Stage
		if c.Stage == pb.Stage_RUNNING {
			st.LastError = nil // resume retries: the error is cleared
		}
		st.UpdatedUnixMs = now
		v.Subtasks[SubtaskKey{c.Task, st.SourceId}] = st
	}
	return ok()
}

// checkEpoch rejects a report from a node whose binding has moved on.
func checkEpoch(v *View, source string, epoch uint64) *pb.ApplyResult {
	b, found := v.Bindings[source]
	if !found || b.Epoch != epoch {
		current := uint64(0)
		if found {
			current = b.Epoch
		}
		return fail(CodeStaleEpoch, "report for source %q at epoch %d, but the binding is at epoch %d", source, epoch, current)
	}
	return nil
}

func applyMarkUnitFinished(v *View, c *pb.MarkUnitFinished, now int64) *pb.ApplyResult {
	if c.GetMark().GetUnit() == "" {
		return fail(CodeInvalidCommand, "a finished-unit mark needs a unit")
	}
	key := SubtaskKey{c.Task, c.SourceId}
	st, found := v.Subtasks[key]
	if !found {
		return fail(CodeSubtaskNotFound, "task %q has no subtask on source %q", c.Task, c.SourceId)
	}
	if res := checkEpoch(v, c.SourceId, c.Epoch); res != nil {
		return res
	}
	st = clone(st)
	mark := clone(c.GetMark())
	mark.FinishedUnixMs = now
	replaced := false
	for i, m := range st.FinishedUnits {
		if m.Unit == mark.Unit {
			st.FinishedUnits[i], replaced = mark, true
		}
	}
	if !replaced {
		st.FinishedUnits = append(st.FinishedUnits, mark)
	}
	st.UpdatedUnixMs = now
	v.Subtasks[key] = st
	return ok()
}

func applyReportSubtaskError(v *View, c *pb.ReportSubtaskError, now int64) *pb.ApplyResult {
	key := SubtaskKey{c.Task, c.SourceId}
	st, found := v.Subtasks[key]
	if !found {
		return fail(CodeSubtaskNotFound, "task %q has no subtask on source %q", c.Task, c.SourceId)
	}
	if res := checkEpoch(v, c.SourceId, c.Epoch); res != nil {
		return res
	}
	st = clone(st)
	st.LastError = nil
	if c.Error != nil {
		st.LastError = clone(c.Error)
		st.LastError.AtUnixMs = now
	}
	if c.Pause {
		st.DesiredStage = pb.Stage_PAUSED
	}
	st.UpdatedUnixMs = now
	v.Subtasks[key] = st
	return ok()
}

func applySetLeaderEviction(v *View, c *pb.SetLeaderEviction, _ int64) *pb.ApplyResult {
	n, found := v.Nodes[c.Node]
	if !found {
		return fail(CodeNodeNotFound, "no member named %q", c.Node)
	}
	n = clone(n)
	n.EvictLeader = c.Evict
	v.Nodes[c.Node] = n
	return ok()
}

func applyPutShardInfo(v *View, c *pb.PutShardInfo, _ int64) *pb.ApplyResult {
	i := c.GetInfo()
	if i.GetTask() == "" || i.GetSourceId() == "" {
		return fail(CodeInvalidCommand, "a shard info needs a task and a source")
	}
	key := ShardInfoKey(i.Task, i.SourceId, i.UpstreamSchema, i.UpstreamTable)
	if res := checkShardInfoUnchanged(v, key, c.IfUnchanged, c.ExpectUpdatedIndex); res != nil {
		return res
	}
	i = clone(i)
	i.UpdatedIndex = v.Index // orders arrivals; the same on every replica
	v.ShardInfos[key] = i
	return ok()
}

// checkShardInfoUnchanged refuses a conditional shard info command when the
// stored info is no longer the one its proposer read.
func checkShardInfoUnchanged(v *View, key string, conditional bool, expect uint64) *pb.ApplyResult {
	if !conditional {
		return nil
	}
	if cur := v.ShardInfos[key].GetUpdatedIndex(); cur != expect {
		return fail(CodeShardInfoChanged, "shard info %s changed at index %d since the proposer read it at index %d; read it again", key, cur, expect)
	}
	return nil
}

func applyPutShardLock(v *View, c *pb.PutShardLock, now int64) *pb.ApplyResult {
	l := c.GetLock()
	if l.GetId() == "" {
		return fail(CodeInvalidCommand, "a shard lock needs an id")
	}
	old, found := v.ShardLocks[l.Id]
	if l.Version != 0 && l.Version != old.GetVersion()+1 {
		return fail(CodeStaleRevision, "shard DDL lock %q: put version %d, but it is at version %d", l.Id, l.Version, old.GetVersion())
	}
	for _, op := range c.Operations {
		if op.GetLockId() != l.Id {
			return fail(CodeInvalidCommand, "shard DDL lock %q: an operation names lock %q", l.Id, op.GetLockId())
		}
	}
	l = clone(l)
	if found {
		l.CreatedUnixMs = old.CreatedUnixMs
	} else {
		l.CreatedUnixMs = now
	}
	v.ShardLocks[l.Id] = l
	for _, op := range c.Operations {
		v.ShardOperations[ShardOperationKey(op.LockId, op.SourceId, op.UpstreamSchema, op.UpstreamTable)] = clone(op)
	}
	return ok()
}

func applyPutShardOperation(v *View, c *pb.PutShardOperation, _ int64) *pb.ApplyResult {
	op := c.GetOperation()
	if op.GetLockId() == "" {
		return fail(CodeInvalidCommand, "a shard operation needs a lock id")
	}
	v.ShardOperations[ShardOperationKey(op.LockId, op.SourceId, op.UpstreamSchema, op.UpstreamTable)] = clone(op)
	return ok()
}

// applyRemoveShardInfo unregisters a shard table (dropped upstream). Its
// operations stay: they belong to the lock, whose planner sees the member
// gone. A missing info is no error: the executor replays the DROP after a
// restart.
func applyRemoveShardInfo(v *View, c *pb.RemoveShardInfo, _ int64) *pb.ApplyResult {
	if c.Task == "" || c.SourceId == "" || c.UpstreamTable == "" {
		return fail(CodeInvalidCommand, "removing a shard info needs a task, a source and a table")
	}
	key := ShardInfoKey(c.Task, c.SourceId, c.UpstreamSchema, c.UpstreamTable)
	if res := checkShardInfoUnchanged(v, key, c.IfUnchanged, c.ExpectUpdatedIndex); res != nil {
		return res
	}
	delete(v.ShardInfos, key)
	return ok()
}

func applyRemoveShardLock(v *View, c *pb.RemoveShardLock, _ int64) *pb.ApplyResult {
	l, found := v.ShardLocks[c.Id]
	if !found {
		return fail(CodeShardLockNotFound, "no shard DDL lock %q", c.Id)
	}
	if c.Version != 0 && l.Version != c.Version {
		return fail(CodeStaleRevision, "remove shard DDL lock %q at version %d, but it is at version %d", c.Id, c.Version, l.Version)
	}
	removeShardLock(v, c.Id)
	return ok()
}

// removeShardLock deletes a lock and the operations put with it.
func removeShardLock(v *View, id string) {
	delete(v.ShardLocks, id)
	maps.DeleteFunc(v.ShardOperations, func(_ string, op *pb.ShardOperation) bool { return op.LockId == id })
}

// applySetBinlogOperator sets (or, with no operator, clears) the `dmctl
// binlog skip|replace` operator of a subtask. The sync unit applies it to
// the DDL at the operator's position.
func applySetBinlogOperator(v *View, c *pb.SetBinlogOperator, now int64) *pb.ApplyResult {
	if _, found := v.Tasks[c.Task]; !found {
		return fail(CodeTaskNotFound, "task %q does not exist", c.Task)
	}
	st, found := v.Subtasks[SubtaskKey{c.Task, c.SourceId}]
	if !found {
		return fail(CodeSubtaskNotFound, "task %q has no subtask on source %q", c.Task, c.SourceId)
	}
	if op := c.GetOperator(); op != nil {
		switch {
		case op.Op != "skip" && op.Op != "replace":
			return fail(CodeInvalidCommand, "binlog operator %q: use skip or replace", op.Op)
		case op.Position == "":
			return fail(CodeInvalidCommand, "a binlog operator needs the position of its DDL")
		case op.Op == "replace" && len(op.Statements) == 0:
			return fail(CodeInvalidCommand, "binlog replace needs statements")
		}
	}
	st = clone(st)
	st.BinlogOperator = c.GetOperator()
	st.UpdatedUnixMs = now
	v.Subtasks[SubtaskKey{c.Task, c.SourceId}] = st
	return ok()
}
