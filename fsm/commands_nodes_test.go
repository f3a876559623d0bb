package fsm

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/dmraft/dmraft/proto"
)

// The command table cases of node registry and leader eviction (see TestCommands).

func withAddrs(name, addr, raft, gossip string) *pb.Node {
	return &pb.Node{Name: name, Addr: addr, RaftAddr: raft, GossipAddr: gossip}
}

func registerNodeCases() []commandCase {
	return []commandCase{
		{
			name: "first node", setup: empty,
			body: &pb.RegisterNode{Node: testNode("n1")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := testNode("n1")
				want.JoinedUnixMs = nowAt(after.Index)
				requireProto(t, "node n1", want, after.Nodes["n1"])
				if len(after.Nodes) != 1 {
					t.Fatalf("nodes = %v", after.NodeNames())
				}
				requireUnchangedExcept(t, before, after, kindNodes)
			},
		},
		{
			name: "another node joins", setup: cluster,
			body: &pb.RegisterNode{Node: testNode("n3")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				want := testNode("n3")
				want.JoinedUnixMs = nowAt(after.Index)
				requireProto(t, "node n3", want, after.Nodes["n3"])
				rest := copyView(after)
				delete(rest.Nodes, "n3")
				requireUnchangedExcept(t, before, rest)
			},
		},
		{
			name: "same node registers again: idempotent, keeps join time and eviction",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n1", Evict: true})
			}),
			body: &pb.RegisterNode{Node: testNode("n1")},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				requireUnchangedExcept(t, before, after)
				if !after.Nodes["n1"].EvictLeader || after.Nodes["n1"].JoinedUnixMs != nowAt(1) {
					t.Fatalf("n1 = %v", after.Nodes["n1"])
				}
			},
		},
		{
			name: "node without admin and gossip address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "", "n3:8291", "")},
			check: func(t *testing.T, _ *pb.ApplyResult, _, after *View) {
				if after.Nodes["n3"].GetRaftAddr() != "n3:8291" {
					t.Fatalf("n3 = %v", after.Nodes["n3"])
				}
			},
		},
		{
			name: "duplicate name at another address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n1", "n9:8261", "n9:8291", "n9:8301")},
			code: CodeNodeExists, msg: []string{`"n1"`, "n1:8291"},
		},
		{
			name: "same name with one address changed", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n1", "n1:8261", "n1:8291", "n1:9999")},
			code: CodeNodeExists, msg: []string{`"n1"`},
		},
		{
			name: "duplicate raft address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n3:8261", "n1:8291", "n3:8301")},
			code: CodeNodeExists, msg: []string{`"n3"`, `"n1"`},
		},
		{
			name: "duplicate admin address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n2:8261", "n3:8291", "n3:8301")},
			code: CodeNodeExists, msg: []string{`"n3"`, `"n2"`},
		},
		{
			name: "duplicate gossip address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n3:8261", "n3:8291", "n2:8301")},
			code: CodeNodeExists, msg: []string{`"n3"`, `"n2"`},
		},
		{
			name: "missing name", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("", "", "n3:8291", "")},
			code: CodeInvalidCommand, msg: []string{"name"},
		},
		{
			name: "missing raft address", setup: cluster,
			body: &pb.RegisterNode{Node: withAddrs("n3", "n3:8261", "", "")},
			code: CodeInvalidCommand, msg: []string{"raft address"},
		},
		{
			name: "missing node", setup: cluster,
			body: &pb.RegisterNode{},
			code: CodeInvalidCommand,
		},
	}
}

func removeNodeCases() []commandCase {
	return []commandCase{
		{
			name: "removes the node and drops its bindings, sources keep epoch and last node",
			setup: then(func(h *harness) {
				h.bind("s3", "n1")
			}),
			body: &pb.RemoveNode{Name: "n1"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Nodes["n1"]; found {
					t.Fatal("n1 is still registered")
				}
				if got := after.BindingsOfNode("n1"); len(got) != 0 {
					t.Fatalf("bindings of removed n1: %v", got)
				}
				requireProto(t, "binding of s2 on n2", before.Bindings["s2"], after.Bindings["s2"])
				if len(after.Bindings) != 1 {
					t.Fatalf("bindings = %v", after.Bindings)
				}
				if s := after.Sources["s1"]; s.Epoch != 1 || s.LastNode != "n1" {
					t.Fatalf("s1 = %v, want epoch 1 and last node n1", s)
				}
				requireUnchangedExcept(t, before, after, kindNodes, kindBindings)
			},
		},
		{
			name: "node without bindings", setup: then(func(h *harness) { h.registerNode("n3") }),
			body: &pb.RemoveNode{Name: "n3"},
			check: func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
				if _, found := after.Nodes["n3"]; found {
					t.Fatal("n3 is still registered")
				}
				requireUnchangedExcept(t, before, after, kindNodes)
			},
		},
		{
			name: "unknown node", setup: cluster,
			body: &pb.RemoveNode{Name: "n9"},
			code: CodeNodeNotFound, msg: []string{`"n9"`},
		},
	}
}

func setLeaderEvictionCases() []commandCase {
	evicted := func(node string, evict bool) func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
		return func(t *testing.T, _ *pb.ApplyResult, before, after *View) {
			t.Helper()
			want := proto.Clone(before.Nodes[node]).(*pb.Node)
			want.EvictLeader = evict
			requireProto(t, "node", want, after.Nodes[node])
			requireUnchangedExcept(t, before, after, kindNodes)
			restBefore, restAfter := copyView(before), copyView(after)
			delete(restBefore.Nodes, node)
			delete(restAfter.Nodes, node)
			requireUnchangedExcept(t, restBefore, restAfter)
		}
	}
	return []commandCase{
		{
			name: "evict", setup: cluster,
			body:  &pb.SetLeaderEviction{Node: "n1", Evict: true},
			check: evicted("n1", true),
		},
		{
			name: "cancel an eviction",
			setup: then(func(h *harness) {
				h.must(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: "n1", Evict: true})
			}),
			body:  &pb.SetLeaderEviction{Node: "n1", Evict: false},
			check: evicted("n1", false),
		},
		{
			name: "unknown node", setup: cluster,
			body: &pb.SetLeaderEviction{Node: "n9", Evict: true},
			code: CodeNodeNotFound, msg: []string{`"n9"`},
		},
	}
}
