package shardlock

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// describe renders a shard command for logs (its first line) and for the
// scenario tests (all of it).
func describe(cmd *pb.Command) string {
	var b strings.Builder
	switch cmd.Type {
	case pb.CommandType_PUT_SHARD_LOCK:
		var c pb.PutShardLock
		mustUnmarshal(cmd, &c)
		l := c.Lock
		fmt.Fprintf(&b, "put lock %s v%d %s owner=%s", l.Id, l.Version, lockState(l), l.Owner)
		if len(l.Ddls) > 0 {
			fmt.Fprintf(&b, " ddls=%s", quoteList(l.Ddls))
		}
		var synced, unsynced []string
		for _, k := range sortedKeys(l.Synced) {
			if l.Synced[k] {
				synced = append(synced, k)
			} else {
				unsynced = append(unsynced, k)
			}
		}
		fmt.Fprintf(&b, " synced=[%s] unsynced=[%s]", strings.Join(synced, " "), strings.Join(unsynced, " "))
		if len(l.Removed) > 0 {
			fmt.Fprintf(&b, " removed=[%s]", strings.Join(l.Removed, " "))
		}
		if l.Mode == ModeOptimistic {
			j, _ := DecodeSchema(l.JoinedTableInfo)
			fmt.Fprintf(&b, "\n  joined: %s", j)
		}
		if l.ConflictMessage != "" {
			fmt.Fprintf(&b, "\n  conflict: %s", l.ConflictMessage)
		}
		for _, op := range c.Operations {
			fmt.Fprintf(&b, "\n  op %s", describeOp(op))
		}
	case pb.CommandType_REMOVE_SHARD_LOCK:
		var c pb.RemoveShardLock
		mustUnmarshal(cmd, &c)
		fmt.Fprintf(&b, "remove lock %s v%d", c.Id, c.Version)
	case pb.CommandType_REMOVE_SHARD_INFO:
		var c pb.RemoveShardInfo
		mustUnmarshal(cmd, &c)
		fmt.Fprintf(&b, "remove info %s/%s", c.Task, MemberKey(c.SourceId, c.UpstreamSchema, c.UpstreamTable))
	case pb.CommandType_PUT_SHARD_INFO:
		var c pb.PutShardInfo
		mustUnmarshal(cmd, &c)
		i := c.Info
		if isMarker(i) {
			fmt.Fprintf(&b, "put marker %s/%s", i.Task, i.SourceId)
			break
		}
		fmt.Fprintf(&b, "put info %s/%s rev %d done %d -> %s.%s", i.Task, MemberKey(i.SourceId, i.UpstreamSchema, i.UpstreamTable),
			i.Revision, i.DoneRevision, i.DownstreamSchema, i.DownstreamTable)
		if len(i.Ddls) > 0 {
			fmt.Fprintf(&b, " ddls=%s", quoteList(i.Ddls))
		}
	default:
		fmt.Fprintf(&b, "%v", cmd.Type)
	}
	return b.String()
}

func describeOp(op *pb.ShardOperation) string {
	s := fmt.Sprintf("%s rev %d %s", MemberKey(op.SourceId, op.UpstreamSchema, op.UpstreamTable), op.Revision, cmpOr(op.Action, "wait"))
	if op.Done {
		s += " done"
	}
	if len(op.Ddls) > 0 && op.Action == ActionExec {
		s += " " + quoteList(op.Ddls)
	}
	if op.ConflictMessage != "" {
		s += "\n    conflict: " + op.ConflictMessage
	}
	return s
}

func lockState(l *pb.ShardLock) string {
	switch {
	case l.Resolved:
		return "resolved"
	case l.Ready:
		return "ready"
	case l.Mode == ModeOptimistic:
		return "open"
	}
	return "gathering"
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func mustUnmarshal(cmd *pb.Command, m proto.Message) {
	if err := proto.Unmarshal(cmd.Body, m); err != nil {
		panic(fmt.Sprintf("shardlock: %v body: %v", cmd.Type, err))
	}
}
