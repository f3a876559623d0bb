package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/test/golden"
)

// TestRecordedPlan runs each testdata/*.script against a real FSM and
// compares the log with testdata/*.golden. Regenerate with
// `go test ./scheduler/ -run TestRecordedPlan -rewrite`.
//
// Script lines (# starts a comment):
//
//	nodes n1 n2       register nodes, alive and heard from now
//	sources s1 s2     create sources
//	advance 10s       move the clock; alive nodes renew their lease
//	kill n2           n2 stops: not alive, LastSeen stays
//	revive n2         n2 is alive again and heard from now
//	forget n2         drop n2 from the members list
//	leader            a new leader: every node's LastSeen = now
//	plan              Plan, apply each command; re-planning must give nothing
//	transfer s1 n2    PlanTransfer and apply
//	offline n2        PlanOfflineMember and apply
func TestRecordedPlan(t *testing.T) {
	golden.Run(t, "testdata/*.script", func(t *testing.T, script string) string {
		return newHarness(t).run(script)
	})
}

type harness struct {
	t       *testing.T
	f       *fsm.FSM
	index   uint64
	now     time.Time
	members map[string]*Member
	out     strings.Builder
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, f: fsm.New(), now: t0, members: map[string]*Member{}}
}

func (h *harness) memberList() []Member {
	var ms []Member
	for _, name := range slices.Sorted(maps.Keys(h.members)) {
		ms = append(ms, *h.members[name])
	}
	return ms
}

func (h *harness) printf(format string, args ...any) { fmt.Fprintf(&h.out, "  "+format+"\n", args...) }

// apply proposes cmd as the leader would, and logs a rejection.
func (h *harness) apply(cmd *pb.Command) bool {
	h.index++
	cmd.NowUnixMs = h.now.UnixMilli()
	res := h.f.Apply(h.index, fsm.Encode(cmd))
	if res.Code != "" {
		h.printf("rejected %s: %s", res.Code, res.Message)
		return false
	}
	return true
}

func (h *harness) run(script string) string {
	golden.EachStep(script, &h.out, func(_ int, line string) {
		fields := strings.Fields(line)
		h.step(fields[0], fields[1:])
	})
	return h.out.String()
}

func (h *harness) step(verb string, args []string) {
	switch verb {
	case "nodes":
		for _, n := range args {
			h.apply(fsm.NewCommand(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: &pb.Node{Name: n, RaftAddr: n + ":8291"}}, 0))
			h.members[n] = &Member{Name: n, Alive: true, LastSeen: h.now}
		}
	case "sources":
		for _, s := range args {
			h.apply(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: s}}, 0))
		}
	case "advance":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			h.t.Fatalf("advance: %v", err)
		}
		h.now = h.now.Add(d)
		for _, m := range h.members {
			if m.Alive {
				m.LastSeen = h.now
			}
		}
		h.printf("t=%s", h.now.Sub(t0))
	case "kill", "revive", "forget":
		for _, n := range args {
			m := h.members[n]
			if m == nil && verb != "forget" {
				h.t.Fatalf("%s: no member %q", verb, n)
			}
			switch verb {
			case "kill":
				m.Alive = false
			case "revive":
				m.Alive, m.LastSeen = true, h.now
			case "forget":
				delete(h.members, n)
			}
		}
	case "leader":
		for _, n := range h.f.View().NodeNames() {
			if m, found := h.members[n]; found {
				m.LastSeen = h.now
			} else {
				h.members[n] = &Member{Name: n, LastSeen: h.now}
			}
		}
	case "plan":
		h.plan()
	case "transfer":
		cmd, err := PlanTransfer(h.f.View(), args[0], args[1], h.memberList())
		h.request([]*pb.Command{cmd}, err)
	case "offline":
		cmds, err := PlanOfflineMember(h.f.View(), args[0], h.memberList())
		h.request(cmds, err)
	default:
		h.t.Fatalf("unknown script verb %q", verb)
	}
}

func (h *harness) request(cmds []*pb.Command, err error) {
	if err != nil {
		h.printf("error: %v", err)
		return
	}
	for _, cmd := range cmds {
		h.printf("%s", describe(h.t, cmd))
		h.apply(cmd)
	}
	h.bindings()
}

func (h *harness) plan() {
	cmds := Plan(h.f.View(), h.memberList(), h.now, cfg)
	if len(cmds) == 0 {
		h.printf("(nothing to do)")
	}
	allApplied := true
	for _, cmd := range cmds {
		h.printf("%s", describe(h.t, cmd))
		allApplied = h.apply(cmd) && allApplied
	}
	if again := Plan(h.f.View(), h.memberList(), h.now, cfg); allApplied && len(again) > 0 {
		h.t.Errorf("at t=%s, planning again right after the plan gives %q", h.now.Sub(t0), describeAll(h.t, again))
	}
	h.bindings()
}

// bindings prints node -> sources@epoch, and the unbound sources.
func (h *harness) bindings() {
	v := h.f.View()
	var parts []string
	for _, n := range v.NodeNames() {
		var held []string
		for _, b := range v.BindingsOfNode(n) {
			held = append(held, fmt.Sprintf("%s@%d", b.SourceId, b.Epoch))
		}
		parts = append(parts, fmt.Sprintf("%s[%s]", n, strings.Join(held, " ")))
	}
	var unbound []string
	for _, id := range v.SourceIDs() {
		if _, bound := v.Bindings[id]; !bound {
			unbound = append(unbound, id)
		}
	}
	if len(unbound) > 0 {
		parts = append(parts, fmt.Sprintf("unbound[%s]", strings.Join(unbound, " ")))
	}
	h.printf("bindings: %s", strings.Join(parts, " "))
}
