package shardlock

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// Unlock returns the commands for `dmctl shard-ddl-lock unlock LOCK_ID
// [--force-remove]`: the way out of a stuck lock. It never touches a
// checkpoint: every shard goes on from where it is, through an operation.
//
// Pessimistic, without forceRemove: the lock proceeds with the shards that
// arrived with the owner's DDLs; the others (not arrived, or arrived with
// other DDLs) leave the lock (ShardLock.removed), and the owner executes
// the DDL once, the arrived shards skip it. A lock that is already synced
// has nothing a plain unlock can do (ErrNothingToUnlock says what it waits
// for).
//
// Optimistic, without forceRemove: every shard stuck in a conflict skips
// its DDL (the target is not changed for it; fix the target by hand if it
// needs to be).
//
// With forceRemove, in both modes: every shard that waits skips its DDL,
// the shards that did not arrive leave the lock, and the lock is resolved;
// Plan removes it once the waiting shards are done. A lock that is
// resolved already is removed at once (shards still waiting on it will
// report again and form a new lock).
func Unlock(v *fsm.View, lockID string, forceRemove bool) ([]*pb.Command, error) {
	old, found := v.ShardLocks[lockID]
	if !found {
		return nil, fmt.Errorf("%w: %q; list them with `shard-ddl-lock`", ErrLockNotFound, lockID)
	}
	var g *group
	for _, x := range collectGroups(v) {
		if x.id == lockID {
			g = x
		}
	}
	s := newStep(v, g)
	l := s.lock
	if forceRemove && l.Resolved {
		return []*pb.Command{fsm.NewCommand(pb.CommandType_REMOVE_SHARD_LOCK, &pb.RemoveShardLock{Id: l.Id, Version: old.Version}, 0)}, nil
	}
	switch {
	case forceRemove:
		s.forceResolve()
	case l.Mode == ModeOptimistic:
		if !s.skipConflicts() {
			return nil, fmt.Errorf("%w: optimistic lock %s has no shard in conflict; --force-remove drops it", ErrNothingToUnlock, lockID)
		}
	case l.Ready:
		return nil, fmt.Errorf("%w: lock %s is synced and waits for %s; if a shard cannot run its operation, fix it with `binlog skip|replace`, or use --force-remove (every waiting shard skips the DDL)",
			ErrNothingToUnlock, lockID, strings.Join(waitingFor(s), ", "))
	default:
		if !s.dropUnarrived() {
			return nil, fmt.Errorf("%w: no shard of lock %s arrived with the owner's DDLs; use --force-remove", ErrNothingToUnlock, lockID)
		}
	}
	if cmd := s.command(); cmd != nil {
		return []*pb.Command{cmd}, nil
	}
	return nil, nil
}

// dropUnarrived removes the members that did not arrive with the owner's
// DDLs and makes the lock ready with the rest.
func (s *step) dropUnarrived() bool {
	l := s.lock
	s.gather() // bring the lock up to date with the view
	if s.remove || s.lock.Ready {
		return !s.remove
	}
	for _, k := range sortedKeys(l.Synced) {
		if !l.Synced[k] {
			l.Removed = append(l.Removed, k)
			if op := s.ops[k]; op != nil {
				op.ConflictMessage = "" // it left the lock: it waits for the next one
			}
		}
	}
	if !l.Synced[l.Owner] {
		return false
	}
	s.makeReady()
	s.settle()
	return true
}

// forceResolve makes every waiting member skip and resolves the lock.
func (s *step) forceResolve() {
	l := s.lock
	if l.Mode == ModePessimistic && !l.Ready {
		s.gather()
		if s.remove {
			return
		}
		for _, k := range sortedKeys(l.Synced) {
			if !l.Synced[k] && s.ops[k] == nil {
				l.Removed = append(l.Removed, k) // never arrived
				delete(l.Synced, k)
			}
		}
		l.Synced[l.Owner] = true
		for k := range l.Synced {
			l.Synced[k] = true
		}
		l.Ready = true
	}
	l.Resolved, l.ConflictMessage = true, ""
	for _, k := range sortedKeys(s.ops) {
		op := s.ops[k]
		info := s.g.infos[k]
		if s.isDone(k) || !pending(info) {
			continue
		}
		if l.Mode == ModePessimistic && !l.Synced[k] {
			continue // it left the lock
		}
		if op.Action == "" || op.Revision != info.Revision {
			op.Action, op.ConflictMessage, op.Ddls, op.Revision = ActionSkip, "", nil, info.Revision
		}
	}
	if l.Mode == ModePessimistic {
		s.settle()
	}
}

// skipConflicts gives every optimistic member in conflict a skip.
func (s *step) skipConflicts() bool {
	any := false
	for _, k := range sortedKeys(s.ops) {
		op, info := s.ops[k], s.g.infos[k]
		if op.Action == "" && op.ConflictMessage != "" && pending(info) && op.Revision == info.Revision {
			op.Action, op.ConflictMessage = ActionSkip, ""
			any = true
		}
	}
	s.lock.ConflictMessage = ""
	return any
}

func waitingFor(s *step) []string {
	var out []string
	for _, k := range sortedKeys(s.lock.Synced) {
		if op := s.ops[k]; op != nil && !s.isDone(k) && (op.Action != "" || k == s.lock.Owner) {
			out = append(out, fmt.Sprintf("%s to %s", k, cmpOr(op.Action, "wait")))
		}
	}
	if len(out) == 0 {
		out = append(out, "the shards to finish")
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// LockStatus is one lock as `dmctl shard-ddl-lock` shows it.
type LockStatus struct {
	ID       string   `json:"id"`
	Task     string   `json:"task"`
	Mode     string   `json:"mode"`
	Owner    string   `json:"owner"` // member key source/schema.table
	DDLs     []string `json:"ddls,omitempty"`
	Synced   []string `json:"synced"`   // pessimistic: arrived; optimistic: schema equals the target's
	Unsynced []string `json:"unsynced"` // the others
	Removed  []string `json:"removed,omitempty"`
	// Ready: pessimistic: all arrived, the owner executes. Resolved: the
	// DDL is handled; the lock goes once every shard is done.
	Ready    bool   `json:"ready,omitempty"`
	Resolved bool   `json:"resolved,omitempty"`
	Conflict string `json:"conflict,omitempty"`
	// Unregistered are running sources that have not registered their
	// shard tables yet; a pessimistic lock waits for them.
	Unregistered []string      `json:"unregistered,omitempty"`
	Joined       string        `json:"joined,omitempty"` // optimistic: the target's schema
	Shards       []ShardStatus `json:"shards"`
}

// ShardStatus is one shard table's part in a lock.
type ShardStatus struct {
	Member   string `json:"member"`
	Action   string `json:"action"` // exec | skip | wait | "" (no operation)
	Done     bool   `json:"done,omitempty"`
	Conflict string `json:"conflict,omitempty"`
}

// Locks lists the locks of task (every task when task is ""), by id.
func Locks(v *fsm.View, task string) []LockStatus {
	var out []LockStatus
	ids := make([]string, 0, len(v.ShardLocks))
	for id, l := range v.ShardLocks {
		if task == "" || l.Task == task {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		l := v.ShardLocks[id]
		st := LockStatus{ID: id, Task: l.Task, Mode: l.Mode, Owner: l.Owner, DDLs: l.Ddls, Removed: l.Removed,
			Ready: l.Ready, Resolved: l.Resolved, Conflict: l.ConflictMessage, Synced: []string{}, Unsynced: []string{}}
		for _, k := range sortedKeys(l.Synced) {
			if l.Synced[k] {
				st.Synced = append(st.Synced, k)
			} else {
				st.Unsynced = append(st.Unsynced, k)
			}
		}
		if l.Mode == ModePessimistic && !l.Ready {
			st.Unregistered = unregisteredSources(v, l.Task)
		}
		if l.Mode == ModeOptimistic {
			if j, err := DecodeSchema(l.JoinedTableInfo); err == nil {
				st.Joined = j.String()
			}
		}
		var members []string
		ops := map[string]*pb.ShardOperation{}
		for _, op := range v.ShardOperations {
			if op.LockId == id {
				k := MemberKey(op.SourceId, op.UpstreamSchema, op.UpstreamTable)
				ops[k] = op
				members = append(members, k)
			}
		}
		for k := range l.Synced {
			if ops[k] == nil {
				members = append(members, k)
			}
		}
		sort.Strings(members)
		for _, k := range slices.Compact(members) {
			sh := ShardStatus{Member: k}
			if op := ops[k]; op != nil {
				sh.Action, sh.Done, sh.Conflict = cmpOr(op.Action, "wait"), op.Done, op.ConflictMessage
			}
			st.Shards = append(st.Shards, sh)
		}
		out = append(out, st)
	}
	return out
}
