package shardlock

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/test/golden"
)

// TestScenarios runs each testdata/*.txt against a real FSM and compares
// the transcript with testdata/*.golden. Regenerate with
// `go test ./shardlock/ -run TestScenarios -rewrite` and review the diff.
//
// Script lines (# starts a comment; arguments may be Go-quoted strings):
//
//	task T MODE SRC...            create sources and task T (shard-mode MODE) with one subtask each
//	register T SRC db.t1 -> db.t ["CREATE TABLE ..."]
//	                              Register one table of SRC (and SRC's marker)
//	arrive T SRC db.t1 "DDL"...   ReportInfo: the shard table reached these DDLs
//	drop T SRC db.t1              Unregister: the table was dropped upstream
//	dropdb T SRC db               Unregister every RegisteredTables: the database was dropped
//	plan                          Plan; apply and print every command; again until nothing is left
//	done T SRC db.t1              the executor acts on OperationFor, then MarkDone
//	op T SRC db.t1                print OperationFor
//	unlock LOCK [--force-remove]  Unlock; apply and print
//	stop T SRC / resume T SRC     set the subtask's desired stage
//	locks [T]                     print Locks
//	reset                         start again with an empty FSM
//	late NAME VERB ARGS...        compute VERB's commands now, apply them only at
//	deliver NAME                  (a proposal delivered late, e.g. after a partition)
//
// Every command is applied with fsm.FSM.Apply, so the apply functions run
// too; a rejected command prints its code.
func TestScenarios(t *testing.T) {
	golden.Run(t, "testdata/*.txt", func(t *testing.T, script string) string {
		return newScenario(t).run(script)
	})
}

type scenario struct {
	t     *testing.T
	f     *fsm.FSM
	index uint64
	line  int
	out   strings.Builder
	// late: the commands of a "late" step, kept for "deliver"
	late    map[string][]*pb.Command
	keeping string
}

func newScenario(t *testing.T) *scenario {
	return &scenario{t: t, f: fsm.New(), late: map[string][]*pb.Command{}}
}

func (s *scenario) printf(format string, args ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		fmt.Fprintf(&s.out, "  %s\n", l)
	}
}

// apply applies cmd as the raft log would and reports a rejection.
func (s *scenario) apply(cmd *pb.Command) bool {
	s.index++
	cmd.NowUnixMs = 1_700_000_000_000 + int64(s.index)
	res := s.f.Apply(s.index, fsm.Encode(cmd))
	if res.Code != "" {
		s.printf("rejected %s: %s", res.Code, res.Message)
		return false
	}
	return true
}

func (s *scenario) run(script string) string {
	golden.EachStep(script, &s.out, func(number int, line string) {
		s.line = number
		args := s.split(line)
		s.step(args[0], args[1:])
	})
	return s.out.String()
}

// split cuts a line into fields; a field starting with " is a Go string.
func (s *scenario) split(line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] != '"' {
			end := strings.IndexAny(line, " \t")
			if end < 0 {
				end = len(line)
			}
			out = append(out, line[:end])
			line = line[end:]
			continue
		}
		prefix, err := strconv.QuotedPrefix(line)
		if err != nil {
			s.t.Fatalf("line %d: %v", s.line, err)
		}
		text, _ := strconv.Unquote(prefix)
		out = append(out, text)
		line = line[len(prefix):]
	}
	return out
}

func (s *scenario) need(args []string, n int, usage string) {
	if len(args) < n {
		s.t.Fatalf("line %d: usage: %s", s.line, usage)
	}
}

func splitTable(name string) (string, string) {
	schema, table, _ := strings.Cut(name, ".")
	return schema, table
}

func (s *scenario) step(verb string, args []string) {
	v := s.f.View()
	switch verb {
	case "reset":
		s.f, s.index = fsm.New(), 0
	case "late":
		s.need(args, 2, "late NAME VERB ARGS...")
		s.keeping = args[0]
		s.step(args[1], args[2:])
		s.keeping = ""
	case "deliver":
		s.need(args, 1, "deliver NAME")
		cmds := s.late[args[0]]
		delete(s.late, args[0])
		s.applyAll(cmds, nil)
	case "task":
		s.need(args, 3, "task T MODE SRC...")
		task, mode, sources := args[0], args[1], args[2:]
		var subtasks []*pb.Subtask
		for _, src := range sources {
			if _, found := v.Sources[src]; !found {
				s.apply(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: src}}, 0))
			}
			subtasks = append(subtasks, &pb.Subtask{SourceId: src})
		}
		cfg := fmt.Sprintf(`{"name":%q,"shard-mode":%q}`, task, mode)
		s.apply(fsm.NewCommand(pb.CommandType_CREATE_TASK, &pb.CreateTask{
			Task: &pb.Task{Name: task, ConfigJson: []byte(cfg), SourceIds: sources}, Subtasks: subtasks}, 0))
	case "register":
		s.need(args, 5, `register T SRC db.t1 -> db.t ["CREATE TABLE ..."]`)
		up, up2 := splitTable(args[2])
		down, down2 := splitTable(args[4])
		table := Table{UpSchema: up, UpTable: up2, DownSchema: down, DownTable: down2}
		if len(args) > 5 {
			table.CreateTable = args[5]
		}
		cmds, err := Register(v, args[0], args[1], []Table{table})
		s.applyAll(cmds, err)
	case "arrive":
		s.need(args, 4, `arrive T SRC db.t1 "DDL"...`)
		schema, table := splitTable(args[2])
		cmd, err := ReportInfo(v, args[0], args[1], schema, table, args[3:])
		if cmd == nil && err == nil {
			s.printf("(nothing to report)")
		}
		s.applyAll([]*pb.Command{cmd}, err)
	case "drop":
		s.need(args, 3, "drop T SRC db.t1")
		schema, table := splitTable(args[2])
		cmd := Unregister(v, args[0], args[1], schema, table)
		if cmd == nil {
			s.printf("(not registered)")
		}
		s.applyAll([]*pb.Command{cmd}, nil)
	case "dropdb":
		s.need(args, 3, "dropdb T SRC db")
		var cmds []*pb.Command
		for _, table := range RegisteredTables(v, args[0], args[1], args[2]) {
			cmds = append(cmds, Unregister(v, args[0], args[1], args[2], table))
		}
		if len(cmds) == 0 {
			s.printf("(nothing registered)")
		}
		s.applyAll(cmds, nil)
	case "plan":
		// As the leader loop: plan and apply until nothing is left.
		for round := 0; ; round++ {
			cmds := Plan(s.f.View())
			if len(cmds) == 0 {
				if round == 0 {
					s.printf("(nothing)")
				}
				break
			}
			if round == 5 {
				s.t.Errorf("line %d: planning does not settle", s.line)
				for _, cmd := range cmds {
					s.printf("!! still planning: %s", describe(cmd))
				}
				break
			}
			s.applyAll(cmds, nil)
		}
	case "op":
		s.need(args, 3, "op T SRC db.t1")
		schema, table := splitTable(args[2])
		s.printOp(OperationFor(v, args[0], args[1], schema, table))
	case "done":
		s.need(args, 3, "done T SRC db.t1")
		schema, table := splitTable(args[2])
		s.printOp(OperationFor(v, args[0], args[1], schema, table))
		cmd, err := MarkDone(v, args[0], args[1], schema, table)
		s.applyAll([]*pb.Command{cmd}, err)
	case "unlock":
		s.need(args, 1, "unlock LOCK [--force-remove]")
		cmds, err := Unlock(v, args[0], len(args) > 1 && args[1] == "--force-remove")
		if len(cmds) == 0 && err == nil {
			s.printf("(nothing)")
		}
		s.applyAll(cmds, err)
	case "stop", "resume":
		s.need(args, 2, verb+" T SRC")
		stage := pb.Stage_STOPPED
		if verb == "resume" {
			stage = pb.Stage_RUNNING
		}
		s.apply(fsm.NewCommand(pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: args[0], SourceIds: args[1:2], Stage: stage}, 0))
	case "locks":
		task := ""
		if len(args) > 0 {
			task = args[0]
		}
		locks := Locks(v, task)
		if len(locks) == 0 {
			s.printf("(no locks)")
		}
		for _, l := range locks {
			s.printf("%s", formatLock(l))
		}
	default:
		s.t.Fatalf("line %d: unknown command %q", s.line, verb)
	}
}

func (s *scenario) applyAll(cmds []*pb.Command, err error) {
	if err != nil {
		s.printf("error: %v", err)
		return
	}
	for _, cmd := range cmds {
		if cmd == nil {
			continue
		}
		if s.keeping != "" {
			s.printf("kept for later: %s", describe(cmd))
			s.late[s.keeping] = append(s.late[s.keeping], cmd)
			continue
		}
		s.printf("%s", describe(cmd))
		s.apply(cmd)
	}
}

func (s *scenario) printOp(op *pb.ShardOperation, ok bool) {
	if !ok {
		s.printf("operation: none yet (wait)")
		return
	}
	s.printf("operation: %s", describeOp(op))
}

func formatLock(l LockStatus) string {
	var b strings.Builder
	state := "gathering"
	switch {
	case l.Resolved:
		state = "resolved"
	case l.Ready:
		state = "ready"
	case l.Mode == ModeOptimistic:
		state = "open"
	}
	fmt.Fprintf(&b, "lock %s %s %s owner=%s synced=[%s] unsynced=[%s]", l.ID, l.Mode, state, l.Owner,
		strings.Join(l.Synced, " "), strings.Join(l.Unsynced, " "))
	if len(l.DDLs) > 0 {
		fmt.Fprintf(&b, "\n  ddls: %s", quoteList(l.DDLs))
	}
	if len(l.Removed) > 0 {
		fmt.Fprintf(&b, "\n  removed: %s", strings.Join(l.Removed, " "))
	}
	if len(l.Unregistered) > 0 {
		fmt.Fprintf(&b, "\n  waiting for sources to register: %s", strings.Join(l.Unregistered, " "))
	}
	if l.Joined != "" {
		fmt.Fprintf(&b, "\n  joined: %s", l.Joined)
	}
	if l.Conflict != "" {
		fmt.Fprintf(&b, "\n  conflict: %s", l.Conflict)
	}
	for _, sh := range l.Shards {
		fmt.Fprintf(&b, "\n  shard %s %s", sh.Member, cmpOr(sh.Action, "-"))
		if sh.Done {
			b.WriteString(" done")
		}
	}
	return b.String()
}
