package shardlock

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// Shard modes (task.yaml shard-mode).
const (
	ModePessimistic = config.ShardPessimistic
	ModeOptimistic  = config.ShardOptimistic
)

// Operation actions. An operation with no action is a wait: the shard has
// arrived and must keep waiting (its ConflictMessage says why, if it is
// stuck).
const (
	ActionExec = "exec" // execute the operation's DDLs on the target
	ActionSkip = "skip" // do not touch the target; the DDL is handled
)

// CodeConflict is the error code of a subtask paused at a shard DDL whose
// operation carries a conflict (no action): `binlog replace`, or
// `shard-ddl-lock unlock`, gets it on.
const CodeConflict = "ShardDDLConflict"

// LockID names the lock of a downstream table: task-`schema`.`table`.
func LockID(task, downSchema, downTable string) string {
	return task + "-" + quoteName(downSchema) + "." + quoteName(downTable)
}

// MemberKey names one shard table in a lock: source/schema.table, the key
// of ShardLock.synced.
func MemberKey(source, schema, table string) string {
	return source + "/" + schema + "." + table
}

// Table is one upstream shard table of a source and the downstream table it
// is routed to.
type Table struct {
	UpSchema, UpTable     string
	DownSchema, DownTable string
	// CreateTable is the table's current CREATE TABLE (SHOW CREATE TABLE
	// upstream, or the executor's schema tracker). Optimistic mode needs
	// it; pessimistic mode may leave it empty.
	CreateTable string
}

// Register returns the commands that register a source's shard tables of a
// task, to propose in order. The executor calls it when a subtask starts
// (before dump, with every table the task's filters and routes select),
// again whenever the sync unit starts (after a restart or a failover), and
// with one table when a new shard table appears (CREATE TABLE in the
// binlog).
//
// An unregistered table gets a ShardInfo without DDLs; a registered one
// keeps its record (pending DDLs and revision included), so calling
// Register again is harmless. The last command puts the source's marker
// (a ShardInfo with empty schema and table): it says that the source has
// listed all its tables. A pessimistic lock is not synced until every
// running source of the task has its marker, so a source still in dump
// cannot be overlooked. Returns nil when everything is registered already.
func Register(v *fsm.View, task, source string, tables []Table) ([]*pb.Command, error) {
	var cmds []*pb.Command
	for _, t := range tables {
		var before []byte
		if t.CreateTable != "" {
			s, err := ParseCreateTable(t.CreateTable)
			if err != nil {
				return nil, fmt.Errorf("register %s.%s of %s: %w", t.UpSchema, t.UpTable, source, err)
			}
			before = EncodeSchema(s)
		}
		old := v.ShardInfos[fsm.ShardInfoKey(task, source, t.UpSchema, t.UpTable)]
		var info *pb.ShardInfo
		switch {
		case old == nil:
			info = &pb.ShardInfo{Task: task, SourceId: source, UpstreamSchema: t.UpSchema, UpstreamTable: t.UpTable,
				DownstreamSchema: t.DownSchema, DownstreamTable: t.DownTable, TableInfoBefore: before,
				LockId: LockID(task, t.DownSchema, t.DownTable)}
		case old.DownstreamSchema != t.DownSchema || old.DownstreamTable != t.DownTable:
			info = proto.Clone(old).(*pb.ShardInfo) // routes changed
			info.DownstreamSchema, info.DownstreamTable = t.DownSchema, t.DownTable
			info.LockId = LockID(task, t.DownSchema, t.DownTable)
		case len(old.TableInfoBefore) == 0 && before != nil && len(old.Ddls) == 0:
			info = proto.Clone(old).(*pb.ShardInfo)
			info.TableInfoBefore = before
		default:
			continue
		}
		cmds = append(cmds, putInfo(info, old))
	}
	if _, found := v.ShardInfos[fsm.ShardInfoKey(task, source, "", "")]; !found {
		cmds = append(cmds, putInfo(&pb.ShardInfo{Task: task, SourceId: source}, nil))
	}
	return cmds, nil
}

// ReportInfo returns the command that reports the DDLs a shard table has
// reached in the binlog. ddls are the statements as they would run on the
// target: routed to the downstream table, after filters. After proposing
// it the sync unit stops applying changes of this table (pessimistic: its
// DML waits too; optimistic: just this DDL) and waits for OperationFor.
//
// Reporting the DDLs the table already waits on returns nil: a replay after
// a restart changes nothing. Different DDLs (binlog replace while waiting)
// raise the revision. In optimistic mode the DDLs must be ones ApplyDDL
// supports, else the error (ErrUnsupportedDDL, ErrParse, ErrBadDDL) should
// pause the subtask.
func ReportInfo(v *fsm.View, task, source, schema, table string, ddls []string) (*pb.Command, error) {
	old, found := v.ShardInfos[fsm.ShardInfoKey(task, source, schema, table)]
	if !found || schema == "" {
		return nil, fmt.Errorf("%w: %s of task %s on source %s; call Register first", ErrNotRegistered, schema+"."+table, task, source)
	}
	if len(ddls) == 0 {
		return nil, fmt.Errorf("report %s.%s of %s: no DDLs", schema, table, source)
	}
	if slices.Equal(old.Ddls, ddls) {
		return nil, nil
	}
	info := proto.Clone(old).(*pb.ShardInfo)
	info.Ddls = slices.Clone(ddls)
	info.Revision++
	info.LockId = LockID(task, info.DownstreamSchema, info.DownstreamTable)
	info.TableInfosAfter = nil
	if before, err := DecodeSchema(old.TableInfoBefore); err == nil && before != nil {
		s := before
		for _, ddl := range ddls {
			if s, err = s.ApplyDDL(ddl); err != nil {
				break
			}
			info.TableInfosAfter = append(info.TableInfosAfter, EncodeSchema(s))
		}
		if err != nil {
			if taskMode(v, task) == ModeOptimistic {
				return nil, fmt.Errorf("report %s.%s of %s: %w", schema, table, source, err)
			}
			info.TableInfosAfter = nil // pessimistic mode does not need the schema
		}
	}
	return putInfo(info, old), nil
}

// OperationFor returns the operation that answers the DDLs a shard table
// reported, once there is something to do: Action exec (run op.Ddls on the
// target), Action skip (do not), or no action with a ConflictMessage (the
// lock is stuck on this shard: pause the subtask with that message; after
// `binlog replace|skip` or `shard-ddl-lock unlock` it resumes). It returns
// false while the shard must keep waiting.
func OperationFor(v *fsm.View, task, source, schema, table string) (*pb.ShardOperation, bool) {
	info, found := v.ShardInfos[fsm.ShardInfoKey(task, source, schema, table)]
	if !found || len(info.Ddls) == 0 {
		return nil, false
	}
	op, found := v.ShardOperations[fsm.ShardOperationKey(LockID(task, info.DownstreamSchema, info.DownstreamTable), source, schema, table)]
	if !found || op.Revision != info.Revision {
		return nil, false
	}
	if op.Action == "" && op.ConflictMessage == "" {
		return nil, false
	}
	return op, true
}

// MarkDone returns the command that reports that a shard table finished its
// exec or skip operation (executed or skipped it, and checkpointed past the DDL). The
// table's info goes back to no DDLs, its schema becomes the schema after
// the DDLs, and done_revision records the revision that was answered. Only
// then may the table report its next DDL.
//
// After a restart, a table whose info still has DDLs is done if the
// checkpoint is past that DDL: call MarkDone; otherwise the replay reaches
// the DDL again and ReportInfo returns nil.
func MarkDone(v *fsm.View, task, source, schema, table string) (*pb.Command, error) {
	old, found := v.ShardInfos[fsm.ShardInfoKey(task, source, schema, table)]
	if !found {
		return nil, fmt.Errorf("%w: %s.%s of task %s on source %s", ErrNotRegistered, schema, table, task, source)
	}
	if len(old.Ddls) == 0 {
		return nil, fmt.Errorf("%w: %s.%s of task %s on source %s", ErrNotPending, schema, table, task, source)
	}
	if op, ok := OperationFor(v, task, source, schema, table); !ok || op.Action == "" {
		return nil, fmt.Errorf("%w: %s.%s of task %s on source %s: keep waiting", ErrNoOperation, schema, table, task, source)
	}
	info := proto.Clone(old).(*pb.ShardInfo)
	info.DoneRevision = old.Revision
	info.Revision++
	info.Ddls = nil
	if n := len(old.TableInfosAfter); n > 0 {
		info.TableInfoBefore = old.TableInfosAfter[n-1]
	} else {
		info.TableInfoBefore = nil // unknown after a DDL the schema model cannot follow
	}
	info.TableInfosAfter = nil
	return putInfo(info, old), nil
}

// Unregister returns the command that takes a shard table out of shard-DDL
// coordination because it was dropped upstream (DROP TABLE in the binlog),
// nil when it is not registered. The executor proposes it at the DROP and
// only then checkpoints past it, so a replay proposes it again (harmless).
//
// The table leaves the lock of its downstream table. Pessimistic: a
// gathering lock stops waiting for it (it becomes ready when the other
// members arrived). Optimistic: its schema no longer counts, so a column
// that only it still had is dropped on the target by the next shard that
// drops it, and the lock can go once the remaining shards agree with the
// target. The target keeps what the dropped table brought (its rows and
// columns): a DROP TABLE of one shard is not replicated.
//
// A table with pending DDLs cannot be dropped before the executor handled
// them (it reads the binlog in order), so nothing waits on it.
func Unregister(v *fsm.View, task, source, schema, table string) *pb.Command {
	if table == "" {
		return nil
	}
	old, found := v.ShardInfos[fsm.ShardInfoKey(task, source, schema, table)]
	if !found {
		return nil
	}
	return fsm.NewCommand(pb.CommandType_REMOVE_SHARD_INFO,
		&pb.RemoveShardInfo{Task: task, SourceId: source, UpstreamSchema: schema, UpstreamTable: table,
			IfUnchanged: true, ExpectUpdatedIndex: old.UpdatedIndex}, 0)
}

// RegisteredTables are the registered shard tables of a source of the task
// in schema, sorted: what a DROP DATABASE of schema unregisters.
func RegisteredTables(v *fsm.View, task, source, schema string) []string {
	var tables []string
	for _, info := range v.ShardInfos {
		if info.Task == task && info.SourceId == source && info.UpstreamSchema == schema && info.UpstreamTable != "" {
			tables = append(tables, info.UpstreamTable)
		}
	}
	slices.Sort(tables)
	return tables
}

// putInfo puts info if the stored info is still old (nil: none stored):
// a put computed from a view that has moved on since (a proposal retried
// after it was applied, or delivered late from a node that lost the
// source) is refused with fsm.CodeShardInfoChanged instead of undoing what
// was put in between.
func putInfo(info, old *pb.ShardInfo) *pb.Command {
	return fsm.NewCommand(pb.CommandType_PUT_SHARD_INFO,
		&pb.PutShardInfo{Info: info, IfUnchanged: true, ExpectUpdatedIndex: old.GetUpdatedIndex()}, 0)
}

// taskMode is the task's shard-mode, "" for a task that merges no shards.
func taskMode(v *fsm.View, task string) string {
	t, found := v.Tasks[task]
	if !found {
		return ""
	}
	cfg, err := config.TaskFromJSON(t.ConfigJson)
	if err != nil {
		return ""
	}
	mode := cfg.ShardMode
	if mode == "" && cfg.IsSharding {
		mode = ModePessimistic
	}
	return mode
}
