package shardlock

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// Plan returns the commands that move every shard DDL lock forward from
// what the infos in v say, at most one per lock: a PutShardLock that carries
// the lock's changed operations (one atomic, versioned step), or a
// RemoveShardLock. It is pure and deterministic (locks in id order); the
// leader proposes the commands in order and plans again after any change.
// A command planned on a stale view fails with fsm.CodeStaleRevision and
// changes nothing. Planning again on the view after the commands gives
// nothing. The commands carry NowUnixMs 0: the proposer stamps them.
func Plan(v *fsm.View) []*pb.Command {
	var cmds []*pb.Command
	for _, g := range collectGroups(v) {
		if cmd := planGroup(v, g); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	return cmds
}

// group is one downstream table of a task: its registered shard tables and
// its lock, if any.
type group struct {
	id, task, mode        string
	downSchema, downTable string
	infos                 map[string]*pb.ShardInfo // member key -> info
	lock                  *pb.ShardLock
}

func collectGroups(v *fsm.View) []*group {
	modes := map[string]string{}
	mode := func(task string) string {
		m, found := modes[task]
		if !found {
			m = taskMode(v, task)
			modes[task] = m
		}
		return m
	}
	groups := map[string]*group{}
	get := func(task, m, schema, table string) *group {
		id := LockID(task, schema, table)
		g := groups[id]
		if g == nil {
			g = &group{id: id, task: task, mode: m, downSchema: schema, downTable: table, infos: map[string]*pb.ShardInfo{}}
			groups[id] = g
		}
		return g
	}
	for _, info := range v.ShardInfos {
		if isMarker(info) || mode(info.Task) == "" {
			continue
		}
		g := get(info.Task, mode(info.Task), info.DownstreamSchema, info.DownstreamTable)
		g.infos[MemberKey(info.SourceId, info.UpstreamSchema, info.UpstreamTable)] = info
	}
	for _, l := range v.ShardLocks {
		g := get(l.Task, l.Mode, l.DownstreamSchema, l.DownstreamTable)
		if g.id != l.Id {
			g = &group{id: l.Id, task: l.Task, infos: map[string]*pb.ShardInfo{}} // a lock this package did not write
			groups[l.Id] = g
		}
		g.lock, g.mode = l, l.Mode
	}
	out := make([]*group, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func isMarker(info *pb.ShardInfo) bool { return info.UpstreamSchema == "" && info.UpstreamTable == "" }

func pending(info *pb.ShardInfo) bool { return info != nil && len(info.Ddls) > 0 }

// running reports whether a source's subtask of the task may still make
// progress: it exists and is not stopped. Paused subtasks count: they come
// back.
func running(v *fsm.View, task, source string) bool {
	st, found := v.Subtasks[fsm.SubtaskKey{Task: task, Source: source}]
	return found && st.DesiredStage != pb.Stage_STOPPED
}

// step is the working copy of one lock and its operations while planning.
type step struct {
	v      *fsm.View
	g      *group
	lock   *pb.ShardLock                 // nil: no lock
	ops    map[string]*pb.ShardOperation // member key -> operation
	old    map[string]*pb.ShardOperation
	remove bool
}

func newStep(v *fsm.View, g *group) *step {
	s := &step{v: v, g: g, ops: map[string]*pb.ShardOperation{}, old: map[string]*pb.ShardOperation{}}
	if g.lock != nil {
		s.lock = proto.Clone(g.lock).(*pb.ShardLock)
		for _, op := range v.ShardOperations {
			if op.LockId == g.id {
				k := MemberKey(op.SourceId, op.UpstreamSchema, op.UpstreamTable)
				s.old[k] = op
				s.ops[k] = proto.Clone(op).(*pb.ShardOperation)
			}
		}
	}
	return s
}

func planGroup(v *fsm.View, g *group) *pb.Command {
	s := newStep(v, g)
	switch g.mode {
	case ModePessimistic:
		s.pessimistic()
	case ModeOptimistic:
		s.optimistic()
	default:
		if s.lock != nil {
			s.remove = true // the task is gone or merges no shards any more
		}
	}
	return s.command()
}

// command turns the step's result into at most one command.
func (s *step) command() *pb.Command {
	old := s.g.lock
	if s.remove {
		if old == nil {
			return nil
		}
		return fsm.NewCommand(pb.CommandType_REMOVE_SHARD_LOCK, &pb.RemoveShardLock{Id: old.Id, Version: old.Version}, 0)
	}
	if s.lock == nil {
		return nil
	}
	var changed []*pb.ShardOperation
	for _, k := range sortedKeys(s.ops) {
		if !proto.Equal(s.ops[k], s.old[k]) {
			changed = append(changed, s.ops[k])
		}
	}
	if old != nil && len(changed) == 0 && proto.Equal(s.lock, old) {
		return nil
	}
	s.lock.Version = old.GetVersion() + 1
	return fsm.NewCommand(pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: s.lock, Operations: changed}, 0)
}

// members are the shard tables that take part: registered, of a running
// subtask, not removed by unlock; sorted.
func (s *step) members() []string {
	var out []string
	for _, k := range sortedKeys(s.g.infos) {
		info := s.g.infos[k]
		if running(s.v, info.Task, info.SourceId) && (s.lock == nil || !slices.Contains(s.lock.Removed, k)) {
			out = append(out, k)
		}
	}
	return out
}

// arrivals are the members with pending DDLs, first arriver first.
func (s *step) arrivals(members []string) []string {
	var out []string
	for _, k := range members {
		if pending(s.g.infos[k]) {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return cmp.Compare(s.g.infos[a].UpdatedIndex, s.g.infos[b].UpdatedIndex)
	})
	return out
}

func (s *step) newLock(owner string) {
	info := s.g.infos[owner]
	s.lock = &pb.ShardLock{Id: s.g.id, Task: s.g.task, Mode: s.g.mode, DownstreamSchema: s.g.downSchema,
		DownstreamTable: s.g.downTable, Owner: owner, OwnerSource: info.SourceId, Synced: map[string]bool{}}
}

// op returns the member's operation, creating an empty one.
func (s *step) op(k string) *pb.ShardOperation {
	if op := s.ops[k]; op != nil {
		return op
	}
	info := s.g.infos[k]
	op := &pb.ShardOperation{LockId: s.g.id, SourceId: info.SourceId, UpstreamSchema: info.UpstreamSchema, UpstreamTable: info.UpstreamTable}
	s.ops[k] = op
	return op
}

// isDone: the member answered its operation (MarkDone raised done_revision
// to the operation's revision), or its info is gone.
func (s *step) isDone(k string) bool {
	op, info := s.ops[k], s.g.infos[k]
	return op != nil && (info == nil || info.DoneRevision >= op.Revision)
}

// ---------------------------------------------------------------------------
// Pessimistic.

// pessimistic: gathering (members arrive; membership follows the
// registrations) -> ready (all arrived with the same DDLs; membership
// frozen; owner executes) -> resolved (owner done, or unlock
// --force-remove; the rest skip) -> removed (every member done).
func (s *step) pessimistic() {
	if s.lock == nil || !s.lock.Ready {
		s.gather()
	}
	if s.lock != nil && s.lock.Ready && !s.remove {
		s.settle()
	}
}

func (s *step) gather() {
	members := s.members()
	arrived := s.arrivals(members)
	if len(arrived) == 0 {
		s.remove = s.lock != nil // everyone who arrived left: nothing to coordinate
		return
	}
	if s.lock == nil {
		s.newLock(arrived[0])
	}
	l := s.lock
	if !slices.Contains(arrived, l.Owner) {
		l.Owner, l.OwnerSource = arrived[0], s.g.infos[arrived[0]].SourceId // the owner left: next arriver
	}
	l.Ddls = slices.Clone(s.g.infos[l.Owner].Ddls)
	l.Synced = map[string]bool{}
	l.ConflictMessage = ""
	ready := true
	for _, k := range members {
		info := s.g.infos[k]
		if !pending(info) {
			l.Synced[k] = false
			ready = false
			continue
		}
		op := s.op(k)
		op.Revision, op.Ddls, op.Action, op.Done = info.Revision, slices.Clone(info.Ddls), "", false
		op.ConflictMessage = s.ddlConflict(k, info.Ddls)
		l.Synced[k] = op.ConflictMessage == ""
		if op.ConflictMessage != "" {
			ready = false
			if l.ConflictMessage == "" {
				l.ConflictMessage = op.ConflictMessage
			}
		}
	}
	if ready && len(unregisteredSources(s.v, s.g.task)) == 0 {
		s.makeReady()
	}
}

// makeReady freezes the membership to the arrived members and sends the
// owner its exec operation.
func (s *step) makeReady() {
	l := s.lock
	l.Ready, l.ConflictMessage = true, ""
	for k, arrived := range l.Synced {
		if !arrived {
			delete(l.Synced, k)
			continue
		}
		s.op(k).Ddls = slices.Clone(l.Ddls)
	}
	s.ops[l.Owner].Action = ActionExec
}

// settle moves a ready lock on: it follows re-reports, resolves the lock
// when the owner is done, and removes it when every member is done.
func (s *step) settle() {
	l := s.lock
	l.ConflictMessage = ""
	// A member that left the lock (unlock) and now arrives with the lock's
	// DDLs comes back: it skips them once the owner is done.
	for _, k := range slices.Clone(l.Removed) {
		if info := s.g.infos[k]; pending(info) && sameDDLs(info.Ddls, l.Ddls) && running(s.v, info.Task, info.SourceId) {
			l.Removed = slices.DeleteFunc(l.Removed, func(r string) bool { return r == k })
			l.Synced[k] = true
			op := s.op(k)
			op.Revision, op.Ddls, op.Done = info.Revision, slices.Clone(l.Ddls), false
		}
	}
	if len(l.Removed) == 0 {
		l.Removed = nil
	}
	if s.isDone(l.Owner) {
		l.Resolved = true
	}
	allDone := true
	for _, k := range sortedKeys(l.Synced) {
		op := s.ops[k]
		if op == nil {
			op = s.op(k) // lost (a lock written by hand): recreate it
			op.Ddls = slices.Clone(l.Ddls)
		}
		if s.isDone(k) {
			op.Done = true
			continue
		}
		allDone = false
		info := s.g.infos[k]
		if pending(info) && info.Revision != op.Revision {
			op.Revision = info.Revision // re-reported after a restart or a binlog replace
		}
		op.ConflictMessage = ""
		switch {
		case l.Resolved:
			op.Action = ActionSkip
		case pending(info) && !sameDDLs(info.Ddls, l.Ddls):
			op.Action, op.ConflictMessage = "", s.ddlConflict(k, info.Ddls)
			if l.ConflictMessage == "" {
				l.ConflictMessage = op.ConflictMessage
			}
		case k == l.Owner:
			op.Action = ActionExec
		default:
			op.Action = ""
		}
	}
	if l.Resolved && allDone {
		s.remove = true
	}
}

func (s *step) ddlConflict(k string, ddls []string) string {
	l := s.lock
	if k == l.Owner || sameDDLs(ddls, l.Ddls) {
		return ""
	}
	return fmt.Sprintf("shard DDLs differ: %s reached %q but the lock's owner %s reached %q; "+
		"make them equal with `binlog replace` on source %s, or `shard-ddl-lock unlock %s`",
		k, strings.Join(ddls, "; "), l.Owner, strings.Join(l.Ddls, "; "), s.g.infos[k].SourceId, l.Id)
}

// unregisteredSources are the running sources of the task that have not
// listed their shard tables yet (no marker), sorted.
func unregisteredSources(v *fsm.View, task string) []string {
	t, found := v.Tasks[task]
	if !found {
		return nil
	}
	var out []string
	for _, src := range t.SourceIds {
		if _, registered := v.ShardInfos[fsm.ShardInfoKey(task, src, "", "")]; !registered && running(v, task, src) {
			out = append(out, src)
		}
	}
	sort.Strings(out)
	return out
}

// sameDDLs compares statements after the parser normalized them (case of
// keywords, quoting, spaces); statements it cannot parse compare as text.
func sameDDLs(a, b []string) bool {
	return slices.EqualFunc(a, b, func(x, y string) bool { return normalizeDDL(x) == normalizeDDL(y) })
}

// ---------------------------------------------------------------------------
// Optimistic.

// optimistic: every pending member is decided at once against the joined
// schema J (what the target has): exec the statements that change J, skip
// otherwise, or a conflict that waits. The lock lives while the shards
// disagree with J or have DDLs in flight; unlock --force-remove resolves it
// (everything undecided skips) and it goes once those operations are done.
func (s *step) optimistic() {
	members := s.members()
	arrived := s.arrivals(members)
	if s.lock == nil {
		if len(arrived) == 0 {
			return
		}
		s.newLock(arrived[0])
		var current []*Schema
		for _, k := range members {
			current = append(current, s.current(k))
		}
		s.lock.JoinedTableInfo = EncodeSchema(lenientJoin(current))
	}
	l := s.lock
	for k, op := range s.ops {
		if op.Action != "" && s.isDone(k) {
			op.Done = true
		}
	}
	if l.Resolved {
		for _, op := range s.ops {
			if op.Action != "" && !op.Done {
				return
			}
		}
		s.remove = true
		return
	}

	joined, err := DecodeSchema(l.JoinedTableInfo)
	if err != nil || joined == nil {
		joined = &Schema{}
	}
	l.ConflictMessage = ""
	for _, k := range arrived {
		info := s.g.infos[k]
		if op := s.ops[k]; op != nil && op.Revision == info.Revision && op.Action != "" {
			continue // decided
		}
		op := s.op(k)
		op.Revision, op.Done = info.Revision, false
		ddls, next, conflict := s.decide(k, joined, members)
		if conflict != "" {
			op.Action, op.Ddls, op.ConflictMessage = "", nil, conflict
			if l.ConflictMessage == "" {
				l.ConflictMessage = conflict
			}
			continue
		}
		op.Ddls, op.ConflictMessage, op.Action = ddls, "", ActionSkip
		if len(ddls) > 0 {
			op.Action, l.Ddls = ActionExec, slices.Clone(ddls)
		}
		joined = next
	}
	l.JoinedTableInfo = EncodeSchema(joined)

	l.Synced = map[string]bool{}
	allSynced := true
	for _, k := range members {
		cur := s.current(k)
		l.Synced[k] = cur != nil && cur.equal(joined)
		allSynced = allSynced && l.Synced[k] && !pending(s.g.infos[k])
	}
	if allSynced {
		s.remove = true // every shard at rest with the target's schema
	}
}

// current is a member's schema as the target must serve it: after its DDLs
// once they are decided, else before them.
func (s *step) current(k string) *Schema {
	info := s.g.infos[k]
	if op := s.ops[k]; pending(info) && op != nil && op.Revision == info.Revision && op.Action != "" {
		return lastAfter(info)
	}
	before, _ := DecodeSchema(info.TableInfoBefore)
	return before
}

func lastAfter(info *pb.ShardInfo) *Schema {
	if n := len(info.TableInfosAfter); n > 0 {
		s, _ := DecodeSchema(info.TableInfosAfter[n-1])
		return s
	}
	return nil
}

func (s *step) decide(k string, joined *Schema, members []string) ([]string, *Schema, string) {
	info := s.g.infos[k]
	before, _ := DecodeSchema(info.TableInfoBefore)
	after := lastAfter(info)
	if before == nil || after == nil {
		return nil, nil, fmt.Sprintf("shard %s has no table schema for %q: optimistic mode needs the CREATE TABLE at Register and DDLs it can follow",
			k, strings.Join(info.Ddls, "; "))
	}
	var others []namedSchema
	for _, o := range members {
		if o != k {
			if cur := s.current(o); cur != nil {
				others = append(others, namedSchema{o, cur})
			}
		}
	}
	return join(joined, before, after, others, k, quoteName(s.g.downSchema)+"."+quoteName(s.g.downTable))
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
