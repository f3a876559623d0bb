package fsm

import (
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// Snapshot is an immutable capture of the state, taken by Snapshot and
// written out later by Persist (possibly while Apply goes on).
type Snapshot struct {
	view *View
}

// Snapshot captures the current state. It is cheap: views are immutable.
func (f *FSM) Snapshot() *Snapshot { return &Snapshot{view: f.View()} }

// Persist writes the snapshot as one length-free protobuf message.
func (s *Snapshot) Persist(w io.Writer) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(toSnapshotProto(s.view))
	if err != nil {
		return fmt.Errorf("marshal snapshot: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// Restore replaces the whole state with the snapshot read from r.
func (f *FSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	var snap pb.Snapshot
	if err := proto.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	f.publish(fromSnapshotProto(&snap))
	return nil
}

func toSnapshotProto(v *View) *pb.Snapshot {
	s := &pb.Snapshot{AppliedIndex: v.Index, RetiredEpochs: cloneMap(v.RetiredEpochs)}
	s.Nodes = sortedValues(v.Nodes)
	s.Sources = sortedValues(v.Sources)
	s.Bindings = sortedValues(v.Bindings)
	s.Tasks = sortedValues(v.Tasks)
	s.ShardInfos = sortedValues(v.ShardInfos)
	s.ShardLocks = sortedValues(v.ShardLocks)
	s.ShardOperations = sortedValues(v.ShardOperations)
	keys := make([]SubtaskKey, 0, len(v.Subtasks))
	for k := range v.Subtasks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Task != keys[j].Task {
			return keys[i].Task < keys[j].Task
		}
		return keys[i].Source < keys[j].Source
	})
	for _, k := range keys {
		s.Subtasks = append(s.Subtasks, v.Subtasks[k])
	}
	return s
}

func fromSnapshotProto(s *pb.Snapshot) *View {
	v := emptyView()
	v.Index = s.AppliedIndex
	for id, e := range s.RetiredEpochs {
		v.RetiredEpochs[id] = e
	}
	for _, n := range s.Nodes {
		v.Nodes[n.Name] = n
	}
	for _, src := range s.Sources {
		v.Sources[src.Config.GetSourceId()] = src
	}
	for _, b := range s.Bindings {
		v.Bindings[b.SourceId] = b
	}
	for _, t := range s.Tasks {
		v.Tasks[t.Name] = t
	}
	for _, st := range s.Subtasks {
		v.Subtasks[SubtaskKey{st.Task, st.SourceId}] = st
	}
	for _, i := range s.ShardInfos {
		v.ShardInfos[ShardInfoKey(i.Task, i.SourceId, i.UpstreamSchema, i.UpstreamTable)] = i
	}
	for _, l := range s.ShardLocks {
		v.ShardLocks[l.Id] = l
	}
	for _, op := range s.ShardOperations {
		v.ShardOperations[ShardOperationKey(op.LockId, op.SourceId, op.UpstreamSchema, op.UpstreamTable)] = op
	}
	return v
}

func sortedValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
