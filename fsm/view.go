package fsm

import (
	"maps"
	"slices"
	"sort"

	pb "github.com/dmraft/dmraft/proto"
)

// SubtaskKey names one subtask: the part of a task for one source.
type SubtaskKey struct {
	Task   string
	Source string
}

// View is an immutable copy of the replicated state at Index. Callers must
// not modify the maps or the records they hold: they are shared with other
// views.
type View struct {
	Index           uint64
	Nodes           map[string]*pb.Node           // by name
	Sources         map[string]*pb.Source         // by source id
	Bindings        map[string]*pb.Binding        // by source id
	Tasks           map[string]*pb.Task           // by task name
	Subtasks        map[SubtaskKey]*pb.Subtask    // by task and source
	ShardInfos      map[string]*pb.ShardInfo      // by ShardInfoKey
	ShardLocks      map[string]*pb.ShardLock      // by lock id
	ShardOperations map[string]*pb.ShardOperation // by ShardOperationKey
	// RetiredEpochs keeps the last epoch of each removed source, so that a
	// source created again under its id never reuses an epoch.
	RetiredEpochs map[string]uint64
}

func emptyView() *View {
	return &View{
		Nodes:           map[string]*pb.Node{},
		Sources:         map[string]*pb.Source{},
		Bindings:        map[string]*pb.Binding{},
		Tasks:           map[string]*pb.Task{},
		Subtasks:        map[SubtaskKey]*pb.Subtask{},
		ShardInfos:      map[string]*pb.ShardInfo{},
		ShardLocks:      map[string]*pb.ShardLock{},
		ShardOperations: map[string]*pb.ShardOperation{},
		RetiredEpochs:   map[string]uint64{},
	}
}

// ShardInfoKey is the key of a shard info: one upstream table of one source
// in one task.
func ShardInfoKey(task, source, schema, table string) string {
	return task + "/" + source + "/" + schema + "." + table
}

// ShardOperationKey is the key of the operation for one shard table of a lock.
func ShardOperationKey(lockID, source, schema, table string) string {
	return lockID + "/" + source + "/" + schema + "." + table
}

// NodeNames returns the names of all registered nodes, sorted.
func (v *View) NodeNames() []string { return sortedKeys(v.Nodes) }

// SourceIDs returns the ids of all sources, sorted.
func (v *View) SourceIDs() []string { return sortedKeys(v.Sources) }

// TaskNames returns the names of all tasks, sorted.
func (v *View) TaskNames() []string { return sortedKeys(v.Tasks) }

// BindingsOfNode returns the bindings held by node, sorted by source id.
func (v *View) BindingsOfNode(node string) []*pb.Binding {
	var out []*pb.Binding
	for _, id := range sortedKeys(v.Bindings) {
		if b := v.Bindings[id]; b.Node == node {
			out = append(out, b)
		}
	}
	return out
}

// SubtasksOfTask returns the subtasks of task, sorted by source id.
func (v *View) SubtasksOfTask(task string) []*pb.Subtask {
	var out []*pb.Subtask
	for k, st := range v.Subtasks {
		if k.Task == task {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SourceId < out[j].SourceId })
	return out
}

// SubtasksOfSource returns the subtasks that read source, sorted by task.
func (v *View) SubtasksOfSource(source string) []*pb.Subtask {
	var out []*pb.Subtask
	for k, st := range v.Subtasks {
		if k.Source == source {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Task < out[j].Task })
	return out
}

// TasksUsingSource returns the names of the tasks with a subtask on source, sorted.
func (v *View) TasksUsingSource(source string) []string {
	var out []string
	for _, st := range v.SubtasksOfSource(source) {
		out = append(out, st.Task)
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
