package cluster

import "errors"

var (
	// ErrNotLeader is returned by leader-only operations on a node that is not
	// (or no longer) the raft leader. The rpc layer forwards the call to
	// Leader() when it sees it.
	ErrNotLeader = errors.New("not the leader")

	// ErrNoLeader is returned when no leader is known within the caller's
	// deadline, e.g. during an election or without a quorum.
	ErrNoLeader = errors.New("no leader")

	// ErrNoQuorum is returned when a leader could not commit within the
	// caller's deadline because too few voters answer. The command may still
	// be applied later.
	ErrNoQuorum = errors.New("no quorum")

	// ErrShutdown is returned by operations on a node that is shut down.
	ErrShutdown = errors.New("node is shut down")

	// ErrUnknownMember is returned when a name is neither in the replicated
	// node records nor in the raft configuration.
	ErrUnknownMember = errors.New("unknown member")

	// ErrLeaseRefused is returned by GrantLease for a member that may not hold
	// a lease: it is unknown or being removed.
	ErrLeaseRefused = errors.New("lease refused")

	// ErrNoTransferTarget is returned by LeadershipTransfer when no other voter
	// may take over leadership.
	ErrNoTransferTarget = errors.New("no voter to transfer leadership to")
)
