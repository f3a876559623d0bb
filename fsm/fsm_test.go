package fsm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// TestViewsAreImmutable takes views at several points and applies commands
// that touch every record kind (successes and business errors): no view,
// map or record handed out earlier may change.
func TestViewsAreImmutable(t *testing.T) {
	h := newHarness(t)
	type taken struct {
		view, frozen *View
	}
	var views []taken
	take := func() {
		v := h.f.View()
		views = append(views, taken{v, copyView(v)})
	}
	steps := []struct {
		typ  pb.CommandType
		body proto.Message
	}{
		{pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: testNode("n4")}},
		{pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n1", Evict: false}},
		{pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: testSourceConfig("s4")}},
		{pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s1", Node: "n3", Epoch: 2}},
		{pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s1", Node: "n3", Epoch: 2}}, // stale now
		{pb.CommandType_UPDATE_TASK, &pb.UpdateTask{Task: testTaskAt("t1", 3)}},
		{pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: "t1", Stage: pb.Stage_PAUSED}},
		{pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{Task: "t1", SourceId: "s1", Epoch: 2, Mark: &pb.UnitMark{Unit: "dump"}}},
		{pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{Task: "t1", SourceId: "s2", Epoch: 1, Mark: &pb.UnitMark{Unit: "sync"}}},
		{pb.CommandType_REPORT_SUBTASK_ERROR, &pb.ReportSubtaskError{Task: "t1", SourceId: "s2", Epoch: 1}},
		{pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: "t1", Stage: pb.Stage_RUNNING}},
		{pb.CommandType_PUT_SHARD_INFO, &pb.PutShardInfo{Info: &pb.ShardInfo{Task: "t1", SourceId: "s1", UpstreamSchema: "shard_1", UpstreamTable: "tb_1", Revision: 9}}},
		{pb.CommandType_PUT_SHARD_LOCK, &pb.PutShardLock{Lock: &pb.ShardLock{Id: "t1-`shard`.`tb`", Task: "t1", Synced: map[string]bool{"x": true}}}},
		{pb.CommandType_PUT_SHARD_OPERATION, &pb.PutShardOperation{Operation: &pb.ShardOperation{LockId: "t1-`shard`.`tb`", SourceId: "s1", UpstreamSchema: "shard_1", UpstreamTable: "tb_1"}}},
		{pb.CommandType_UNBIND_SOURCE, &pb.UnbindSource{SourceId: "s3"}},
		{pb.CommandType_REMOVE_NODE, &pb.RemoveNode{Name: "n2"}},
		{pb.CommandType_REMOVE_SHARD_LOCK, &pb.RemoveShardLock{Id: "t1-`shard`.`tb`"}},
		{pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: "t1"}},
		{pb.CommandType_REMOVE_SOURCE, &pb.RemoveSource{SourceId: "s1"}},
	}
	take() // the empty state
	h.fullState()
	take()
	failures := 0
	for i, s := range steps {
		if res := h.apply(s.typ, s.body); res.Code != "" {
			failures++
		}
		for j, v := range views {
			if diffs := viewDiff(v.frozen, v.view); len(diffs) > 0 {
				t.Fatalf("step %d (%v) changed view %d:\n%s", i, s.typ, j, strings.Join(diffs, "\n"))
			}
		}
		take()
	}
	if failures != 1 {
		t.Fatalf("%d steps failed; only the stale bind should", failures)
	}
	if err := h.f.Restore(strings.NewReader("")); err != nil { // restore the empty state
		t.Fatal(err)
	}
	for _, v := range views {
		requireViewsEqual(t, v.frozen, v.view)
	}
}

func testTaskAt(name string, revision uint64) *pb.Task {
	t := testTask(name, "s1", "s2")
	t.Revision = revision
	return t
}

func TestWaitIndex(t *testing.T) {
	t.Run("already applied returns at once, even with a done context", func(t *testing.T) {
		h := newHarness(t)
		h.cluster()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, i := range []uint64{0, 1, h.index} {
			if err := h.f.WaitIndex(ctx, i); err != nil {
				t.Fatalf("WaitIndex(%d) at %d: %v", i, h.index, err)
			}
		}
	})
	t.Run("returns when the index is reached, also by a business error", func(t *testing.T) {
		h := newHarness(t)
		done := make(chan error, 1)
		go func() { done <- h.f.WaitIndex(context.Background(), 3) }()
		h.registerNode("n1")
		h.createSource("s1")
		select {
		case err := <-done:
			t.Fatalf("WaitIndex(3) returned at index 2: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if res := h.apply(pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: "t9"}); res.Code == "" {
			t.Fatal("setup: expected a business error")
		}
		requireDone(t, done, nil)
	})
	t.Run("returns when a restore reaches the index", func(t *testing.T) {
		src := newHarness(t)
		src.cluster()
		f := New()
		done := make(chan error, 1)
		go func() { done <- f.WaitIndex(context.Background(), src.index) }()
		if err := f.Restore(strings.NewReader(string(persist(t, src.f.Snapshot())))); err != nil {
			t.Fatal(err)
		}
		requireDone(t, done, nil)
	})
	t.Run("cancel", func(t *testing.T) {
		f := New()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.WaitIndex(ctx, 10) }()
		cancel()
		err := requireDone(t, done, context.Canceled)
		if !strings.Contains(err.Error(), "10") {
			t.Fatalf("error %q does not name the index", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		f := New()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if err := f.WaitIndex(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitIndex = %v, want DeadlineExceeded", err)
		}
	})
}

// requireDone waits for a WaitIndex result and checks it against want
// (nil: success; otherwise errors.Is).
func requireDone(t *testing.T, done <-chan error, want error) error {
	t.Helper()
	select {
	case err := <-done:
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			t.Fatalf("WaitIndex = %v, want %v", err, want)
		}
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("WaitIndex did not return")
		return nil
	}
}

func TestChangedFiresOnApply(t *testing.T) {
	h := newHarness(t)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := h.f.Changed()
	if closed(ch) {
		t.Fatal("Changed fired before any change")
	}
	// Several watchers of the same channel are all woken.
	woken := make(chan struct{}, 3)
	for i := 0; i < 3; i++ {
		go func() { <-ch; woken <- struct{}{} }()
	}
	h.registerNode("n1")
	if !closed(ch) {
		t.Fatal("Changed did not fire on apply")
	}
	for i := 0; i < 3; i++ {
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatal("a watcher was not woken")
		}
	}
	next := h.f.Changed()
	if closed(next) {
		t.Fatal("the next Changed channel is already closed")
	}
	h.apply(pb.CommandType_REMOVE_NODE, &pb.RemoveNode{Name: "n9"}) // a business error raises the index too
	if !closed(next) {
		t.Fatal("Changed did not fire on a business error")
	}
	next = h.f.Changed()
	if err := h.f.Restore(strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if !closed(next) {
		t.Fatal("Changed did not fire on restore")
	}
}

// mustPanic runs fn and fails unless it panics with a message containing want.
func mustPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatal("did not panic")
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Fatalf("panic %q does not contain %q", msg, want)
		}
	}()
	fn()
}

// TestCorruptLogPanics: an entry that does not decode, a body that does not
// decode, and an unknown command type are a corrupt log (or a binary too
// old for it) and must stop the replica, not be skipped. The state stays
// as it was.
func TestCorruptLogPanics(t *testing.T) {
	truncated := []byte{0x0a, 0x05, 0x01} // field 1, length 5, one byte present
	cases := map[string]func(h *harness) []byte{
		"envelope does not decode": func(*harness) []byte { return []byte{0x12, 0x05, 0x01} },
		"unknown type 0":           func(*harness) []byte { return Encode(&pb.Command{Type: pb.CommandType_UNKNOWN}) },
		"type from a newer build":  func(*harness) []byte { return Encode(&pb.Command{Type: pb.CommandType(9999)}) },
	}
	want := map[string]string{
		"envelope does not decode": "not a command",
		"unknown type 0":           "unknown command type",
		"type from a newer build":  "unknown command type",
	}
	for typ := range registry {
		name := "garbage body of " + typ.String()
		cases[name] = func(*harness) []byte { return Encode(&pb.Command{Type: typ, Body: truncated}) }
		want[name] = "does not decode"
	}
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.cluster()
			before := copyView(h.f.View())
			changed := h.f.Changed()
			mustPanic(t, want[name], func() { h.f.Apply(h.index+1, cases[name](h)) })
			requireViewsEqual(t, before, h.f.View())
			select {
			case <-changed:
				t.Fatal("Changed fired for an entry that panicked")
			default:
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	for num, name := range pb.CommandType_name {
		typ := pb.CommandType(num)
		if _, found := registry[typ]; found == (typ == pb.CommandType_UNKNOWN) {
			t.Errorf("%s: registered = %v", name, found)
		}
	}
	mustPanic(t, "registered twice", func() {
		register(pb.CommandType_REGISTER_NODE, func() *pb.RegisterNode { return &pb.RegisterNode{} }, applyRegisterNode)
	})
}

// TestCommandTypesAreAppendOnly pins the numbers of the command types in
// testdata/command_types.txt: the log stores numbers, so a type must never
// be renumbered or reused. New types go at the end of the enum and of the
// file (-update appends them).
func TestCommandTypesAreAppendOnly(t *testing.T) {
	path := filepath.Join("testdata", "command_types.txt")
	type entry struct {
		num  int32
		name string
	}
	var current []entry
	for num, name := range pb.CommandType_name {
		current = append(current, entry{num, name})
	}
	sort.Slice(current, func(i, j int) bool { return current[i].num < current[j].num })

	pinned := map[int32]string{}
	var maxPinned int32 = -1
	if file, err := os.Open(path); err == nil {
		s := bufio.NewScanner(file)
		for s.Scan() {
			var e entry
			if _, err := fmt.Sscanf(s.Text(), "%d %s", &e.num, &e.name); err != nil {
				t.Fatalf("%s: %q: %v", path, s.Text(), err)
			}
			pinned[e.num] = e.name
			maxPinned = max(maxPinned, e.num)
		}
		file.Close()
	} else if !*update {
		t.Fatal(err)
	}

	var added []string
	for num, name := range pinned {
		if got, found := pb.CommandType_name[num]; !found || got != name {
			t.Errorf("command type %d was %s and is now %q: never renumber or reuse a command type", num, name, got)
		}
	}
	for _, e := range current {
		if _, found := pinned[e.num]; found {
			continue
		}
		if e.num < maxPinned {
			t.Errorf("command type %s = %d was inserted before the end (last pinned: %d)", e.name, e.num, maxPinned)
		}
		added = append(added, fmt.Sprintf("%d %s\n", e.num, e.name))
	}
	if len(added) == 0 {
		return
	}
	if !*update {
		t.Fatalf("new command types; append them to %s (or run with -update):\n%s", path, strings.Join(added, ""))
	}
	file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteString(strings.Join(added, "")); err != nil {
		t.Fatal(err)
	}
}
