package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Member states reported by Members.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
)

// Member is one cluster member: a node with a replicated record, a server in
// the raft configuration, or both.
type Member struct {
	Name, Addr, RaftAddr, GossipAddr string
	// State: alive or dead as memberlist sees it (unknown to memberlist or
	// left: dead). On the leader, an alive member that has not renewed its
	// lease within FenceTimeout is reported as suspect.
	State       string
	Voter       bool
	Leader      bool
	EvictLeader bool
}

// nodeMeta is what a node gossips about itself (memberlist allows 512 bytes).
type nodeMeta struct {
	Addr     string `json:"a,omitempty"`
	RaftAddr string `json:"r,omitempty"`
}

// gossip tracks memberlist's view through its event callbacks, which run
// under memberlist's lock (reading memberlist.Members() fields is racy).
type gossip struct {
	self  string
	meta  []byte
	mu    sync.Mutex
	nodes map[string]gossipNode
}

type gossipNode struct {
	state string
	meta  nodeMeta
}

func (g *gossip) NodeMeta(limit int) []byte {
	if len(g.meta) > limit {
		return nil
	}
	return g.meta
}
func (g *gossip) NotifyMsg([]byte)                           {}
func (g *gossip) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (g *gossip) LocalState(join bool) []byte                { return nil }
func (g *gossip) MergeRemoteState(buf []byte, join bool)     {}

func (g *gossip) NotifyJoin(n *memberlist.Node)   { g.set(n, StateAlive) }
func (g *gossip) NotifyUpdate(n *memberlist.Node) { g.set(n, StateAlive) }
func (g *gossip) NotifyLeave(n *memberlist.Node)  { g.set(n, StateDead) }

func (g *gossip) set(n *memberlist.Node, state string) {
	var meta nodeMeta
	_ = json.Unmarshal(n.Meta, &meta) // a peer without meta is still a peer
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes[n.Name] = gossipNode{state: state, meta: meta}
}

func (g *gossip) snapshot() map[string]gossipNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]gossipNode, len(g.nodes))
	for k, v := range g.nodes {
		out[k] = v
	}
	return out
}

// newMemberlist starts gossip on cfg.GossipAddr.
func newMemberlist(cfg *Config) (*memberlist.Memberlist, *gossip, error) {
	host, portStr, err := net.SplitHostPort(cfg.GossipAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("gossip address %q: %w", cfg.GossipAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, fmt.Errorf("gossip address %q: bad port: %w", cfg.GossipAddr, err)
	}
	meta, _ := json.Marshal(nodeMeta{Addr: cfg.Addr, RaftAddr: cfg.RaftAddr})
	g := &gossip{self: cfg.Name, meta: meta, nodes: map[string]gossipNode{}}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr = host
	if host == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.BindPort = port
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		mc.AdvertiseAddr = host
	}
	mc.AdvertisePort = port
	mc.ProbeInterval = cfg.Gossip.ProbeInterval
	mc.ProbeTimeout = cfg.Gossip.ProbeTimeout
	mc.GossipInterval = cfg.Gossip.GossipInterval
	mc.PushPullInterval = cfg.Gossip.PushPull
	mc.SuspicionMult = cfg.Gossip.SuspicionMult
	mc.GossipToTheDeadTime = 4 * cfg.Gossip.PushPull
	mc.TCPTimeout = 2 * time.Second
	mc.DeadNodeReclaimTime = time.Second // a restarted node may come back at a new address
	mc.SecretKey = cfg.GossipKey
	mc.Delegate = g
	mc.Events = g
	mc.Logger = log.New(memberlistWriter{log: cfg.Logger.With().Str(logComponent, "memberlist").Logger()}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, nil, fmt.Errorf("start gossip on %s: %w", cfg.GossipAddr, err)
	}
	return ml, g, nil
}

// gossipStates returns the memberlist state of every known node by name.
func (n *Node) gossipStates() map[string]string {
	out := map[string]string{}
	for name, gn := range n.gossip.snapshot() {
		out[name] = gn.state
	}
	out[n.cfg.Name] = StateAlive
	return out
}

// gossipJoinLoop joins, every second, the gossip addresses of the recorded
// nodes that memberlist does not see alive.
func (n *Node) gossipJoinLoop(ctx context.Context) {
	defer n.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		states := n.gossipStates()
		var addrs []string
		for name, rec := range n.fsm.View().Nodes {
			if states[name] != StateAlive && rec.GossipAddr != "" {
				addrs = append(addrs, rec.GossipAddr)
			}
		}
		if len(addrs) > 0 {
			if _, err := n.ml.Join(addrs); err != nil {
				n.log.Debug().Err(err).Strs("addrs", addrs).Msg("gossip join")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Members returns the union of the replicated node records and the raft
// configuration, sorted by name.
func (n *Node) Members() []Member {
	view := n.fsm.View()
	gossip := n.gossip.snapshot()
	servers := n.raftServers()
	_, leaderID := n.raft.LeaderWithID()
	isLeader := n.IsLeader()
	var live map[string]bool
	if isLeader {
		live = map[string]bool{}
		for _, l := range n.Liveness(time.Now()) {
			live[l.Name] = l.Alive
		}
	}

	byName := map[string]*Member{}
	get := func(name string) *Member {
		m := byName[name]
		if m == nil {
			m = &Member{Name: name, State: StateDead}
			byName[name] = m
		}
		return m
	}
	for name, rec := range view.Nodes {
		m := get(name)
		m.Addr, m.RaftAddr, m.GossipAddr, m.EvictLeader = rec.Addr, rec.RaftAddr, rec.GossipAddr, rec.EvictLeader
	}
	for _, s := range servers {
		m := get(string(s.ID))
		m.Voter = s.Suffrage == raft.Voter
		if m.RaftAddr == "" {
			m.RaftAddr = string(s.Address)
		}
	}
	for name, m := range byName {
		gn, known := gossip[name]
		switch {
		case name == n.cfg.Name:
			m.State = StateAlive
		case known && gn.state == StateAlive:
			m.State = StateAlive
			if isLeader && live != nil && !live[name] {
				if _, recorded := view.Nodes[name]; recorded {
					m.State = StateSuspect
				}
			}
		}
		if m.Addr == "" && known {
			m.Addr = gn.meta.Addr
		}
		m.Leader = name == string(leaderID)
	}
	out := make([]Member, 0, len(byName))
	for _, m := range byName {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// raftServers returns the latest raft configuration (empty on error).
func (n *Node) raftServers() []raft.Server {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil
	}
	return f.Configuration().Servers
}
