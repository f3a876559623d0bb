package cluster

import (
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/dmraft/dmraft/fsm"
)

// raftFSM adapts *fsm.FSM to raft.FSM. Only LogCommand entries reach Apply;
// raft keeps barriers, no-ops and configuration entries to itself, so the
// FSM's applied index is the index of the last command, which can be lower
// than raft's commit index (see readIndex).
type raftFSM struct {
	fsm *fsm.FSM
}

var _ raft.FSM = (*raftFSM)(nil)

func (r *raftFSM) Apply(l *raft.Log) any {
	return r.fsm.Apply(l.Index, l.Data)
}

func (r *raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &raftSnapshot{snap: r.fsm.Snapshot()}, nil
}

func (r *raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return r.fsm.Restore(rc)
}

type raftSnapshot struct{ snap *fsm.Snapshot }

func (s *raftSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.Persist(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot sink: %w", err)
	}
	return nil
}

func (s *raftSnapshot) Release() {}

// readIndex turns a raft commit index into the index a replica's FSM must
// reach to reflect every command committed up to it: the index of the last
// command entry at or below commit. Entries that never reach the FSM
// (barriers, no-ops, configuration changes) are skipped by reading the log.
// If the log is already compacted there, every command up to commit is in a
// snapshot this FSM has restored or taken, so its applied index serves.
func (n *Node) readIndex(commit uint64) (uint64, error) {
	for i := commit; i > 0; i-- {
		var l raft.Log
		err := n.store.GetLog(i, &l)
		if errors.Is(err, raft.ErrLogNotFound) {
			return min(commit, n.fsm.AppliedIndex()), nil
		}
		if err != nil {
			return 0, fmt.Errorf("read log entry %d: %w", i, err)
		}
		if l.Type == raft.LogCommand {
			return i, nil
		}
	}
	return 0, nil
}
