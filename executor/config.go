package executor

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// Lease is the node's permission to write: valid only while it has had
// leader contact within the fence timeout (see package cluster).
type Lease interface {
	Valid(now time.Time) bool
	Changed() <-chan struct{}
}

// Assignment is everything a unit needs to run one subtask on this node.
type Assignment struct {
	Task    *pb.Task
	Subtask *pb.Subtask
	Source  *pb.Source
	Epoch   uint64 // the binding's fencing token
}

// Unit is one phase of a subtask (dump, load, sync). Run returns when the
// unit is finished (nil), failed (error) or ctx is cancelled.
type Unit interface {
	Name() string
	Run(ctx context.Context) error
	// Progress returns the unit's live progress as JSON in DM's shape, or "".
	Progress() string
}

// UnitFactory picks the unit that runs next for an assignment, from the
// finished-unit marks. It returns nil when no unit is left (the subtask is
// finished) or none is available in this build.
type UnitFactory func(a Assignment) (Unit, error)

// Config wires an Executor to its node.
type Config struct {
	Node    string
	View    func() *fsm.View
	Changed func() <-chan struct{}
	Lease   Lease
	Propose func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
	// Units creates the unit for an assignment; nil means this build has no
	// data units and runners hold their slot empty.
	Units  UnitFactory
	Tick   time.Duration // re-check interval besides change notifications
	Now    func() time.Time
	Logger zerolog.Logger
}

func (c *Config) setDefaults() {
	if c.Tick == 0 {
		c.Tick = 500 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}
