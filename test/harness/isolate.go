package harness

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

var ensureIptablesOnce sync.Once
var ensureIptablesErr error

// ensureIptables installs iptables when it is missing (Debian package).
func ensureIptables() error {
	ensureIptablesOnce.Do(func() {
		if _, err := exec.LookPath("iptables"); err == nil {
			return
		}
		cmd := exec.Command("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables")
		if out, err := cmd.CombinedOutput(); err != nil {
			ensureIptablesErr = fmt.Errorf("install iptables: %v: %s", err, out)
		}
	})
	return ensureIptablesErr
}

// A rule drops packets that one node's process sends: all of them, or
// those to another node's listening ports (TCP admin and raft, TCP and UDP
// gossip). Nodes run under their own uid, matched with the owner module;
// traffic stays on loopback.
type rule []string

func (r rule) run(op string) error {
	args := append([]string{op, "OUTPUT"}, r...)
	out, err := exec.Command("iptables", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func ownerRules(from *Node, to *Node) []rule {
	owner := []string{"-m", "owner", "--uid-owner", strconv.Itoa(from.UID)}
	if to == nil {
		return []rule{append(owner, "-j", "DROP")}
	}
	ports := []string{port(to.Addr), port(to.RaftAddr), port(to.GossipAddr)}
	return []rule{
		append(append([]string{}, owner...), "-p", "tcp", "-m", "multiport", "--dports", strings.Join(ports, ","), "-j", "DROP"),
		append(append([]string{}, owner...), "-p", "udp", "--dport", port(to.GossipAddr), "-j", "DROP"),
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func (c *Cluster) addRules(rs []rule) {
	c.t.Helper()
	if err := ensureIptables(); err != nil {
		c.t.Fatal(err)
	}
	for _, r := range rs {
		if err := r.run("-I"); err != nil {
			c.t.Fatal(err)
		}
		c.mu.Lock()
		c.rules = append(c.rules, r)
		c.mu.Unlock()
	}
}

func (c *Cluster) needUID(nodes ...*Node) {
	for _, n := range nodes {
		if n.UID == 0 {
			c.t.Fatalf("cutting %s off needs root: nodes run under their own uid for the iptables owner match", n.Name)
		}
	}
}

// Isolate drops every packet node n sends, which cuts it off from every
// other node in both directions (TCP needs both; gossip probes go unanswered).
func (c *Cluster) Isolate(n *Node) {
	c.t.Helper()
	c.needUID(n)
	c.addRules(ownerRules(n, nil))
}

// Cut stops a from reaching b's ports: no connection from a to b is set up
// and no gossip datagram from a arrives at b. Connections that b opens to a
// still work. Cut both ways for a symmetric partition.
func (c *Cluster) Cut(a, b *Node) {
	c.t.Helper()
	c.needUID(a)
	c.addRules(ownerRules(a, b))
}

// Heal removes every rule that drops packets of n.
func (c *Cluster) Heal(n *Node) {
	c.removeRules(func(r rule) bool { return r[3] == strconv.Itoa(n.UID) })
}

// HealAll removes every rule the cluster added.
func (c *Cluster) HealAll() { c.removeRules(func(rule) bool { return true }) }

func (c *Cluster) removeRules(match func(rule) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.rules[:0]
	for _, r := range c.rules {
		if !match(r) {
			kept = append(kept, r)
			continue
		}
		if err := r.run("-D"); err != nil {
			c.t.Logf("heal: %v", err)
		}
	}
	c.rules = kept
}
