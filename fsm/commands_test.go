package fsm

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// commandCase is one row of a command's table: a state, one command applied
// on top of it, and what must come out.
//
// For a business error (code != "") the runner checks that the state is the
// one before the command, record by record, with only the applied index
// raised. For a success the case's check says what changed and
// requireUnchangedExcept that nothing else did.
type commandCase struct {
	name  string
	setup func(h *harness) // builds the state before the command
	body  proto.Message
	code  string   // expected result code; "" for success
	msg   []string // substrings the result message must contain
	check func(t *testing.T, res *pb.ApplyResult, before, after *View)
}

var (
	empty   = func(*harness) {}
	cluster = (*harness).cluster
)

// then returns a setup that builds the cluster state and then applies more.
func then(more func(h *harness)) func(h *harness) {
	return func(h *harness) {
		h.t.Helper()
		h.cluster()
		more(h)
	}
}

// TestCommands runs the table of every registered command type.
func TestCommands(t *testing.T) {
	tables := commandTables()
	for typ := range registry {
		cases := tables[typ]
		if !slices.ContainsFunc(cases, func(c commandCase) bool { return c.code == "" }) ||
			!slices.ContainsFunc(cases, func(c commandCase) bool { return c.code != "" }) {
			t.Errorf("command %v needs at least one success and one business-error case", typ)
		}
	}
	for typ, cases := range tables {
		if _, registered := registry[typ]; !registered {
			t.Errorf("table for %v, which is not registered", typ)
		}
		t.Run(typ.String(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { runCommandCase(t, typ, c) })
			}
		})
	}
}

func runCommandCase(t *testing.T, typ pb.CommandType, c commandCase) {
	h := newHarness(t)
	c.setup(h)
	before := h.f.View()
	frozen := copyView(before)

	res := h.apply(typ, c.body)
	after := h.f.View()

	if res.Code != c.code {
		t.Fatalf("result code = %q (%s), want %q", res.Code, res.Message, c.code)
	}
	for _, sub := range c.msg {
		if !strings.Contains(res.Message, sub) {
			t.Errorf("result message %q does not contain %q", res.Message, sub)
		}
	}
	if c.code != "" {
		if res.Message == "" {
			t.Error("a business error needs a message")
		}
		if err := ResultError(res); err == nil || err.(*ApplyError).Code != c.code {
			t.Errorf("ResultError = %v, want an *ApplyError with code %s", err, c.code)
		}
		requireOnlyIndexChanged(t, frozen, after, h.index)
	} else {
		if res.Message != "" || ResultError(res) != nil {
			t.Errorf("success carries message %q", res.Message)
		}
		if after.Index != h.index {
			t.Fatalf("applied index = %d, want %d", after.Index, h.index)
		}
		if c.check == nil {
			t.Fatal("a success case needs a check")
		}
		c.check(t, res, frozen, after)
	}
	// Whatever happened, the view taken before the command did not move.
	requireViewsEqual(t, frozen, before)
}

// commandTables holds the cases of every command type. TestCommands fails
// when a registered type has no success or no error case here.
func commandTables() map[pb.CommandType][]commandCase {
	return map[pb.CommandType][]commandCase{
		pb.CommandType_REGISTER_NODE:        registerNodeCases(),
		pb.CommandType_REMOVE_NODE:          removeNodeCases(),
		pb.CommandType_CREATE_SOURCE:        createSourceCases(),
		pb.CommandType_REMOVE_SOURCE:        removeSourceCases(),
		pb.CommandType_BIND_SOURCE:          bindSourceCases(),
		pb.CommandType_UNBIND_SOURCE:        unbindSourceCases(),
		pb.CommandType_CREATE_TASK:          createTaskCases(),
		pb.CommandType_UPDATE_TASK:          updateTaskCases(),
		pb.CommandType_REMOVE_TASK:          removeTaskCases(),
		pb.CommandType_SET_SUBTASK_STAGE:    setSubtaskStageCases(),
		pb.CommandType_MARK_UNIT_FINISHED:   markUnitFinishedCases(),
		pb.CommandType_REPORT_SUBTASK_ERROR: reportSubtaskErrorCases(),
		pb.CommandType_SET_LEADER_EVICTION:  setLeaderEvictionCases(),
		pb.CommandType_PUT_SHARD_INFO:       putShardInfoCases(),
		pb.CommandType_PUT_SHARD_LOCK:       putShardLockCases(),
		pb.CommandType_PUT_SHARD_OPERATION:  putShardOperationCases(),
		pb.CommandType_REMOVE_SHARD_LOCK:    removeShardLockCases(),
		pb.CommandType_SET_BINLOG_OPERATOR:  setBinlogOperatorCases(),
		pb.CommandType_REMOVE_SHARD_INFO:    removeShardInfoCases(),
	}
}
