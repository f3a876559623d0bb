package harness

import (
	"fmt"
	"os/exec"
	"strconv"
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

func ownerRule(op string, uid int) *exec.Cmd {
	return exec.Command("iptables", op, "OUTPUT", "-m", "owner", "--uid-owner", strconv.Itoa(uid), "-j", "DROP")
}

// Isolate drops every packet node n sends, which cuts it off from the
// other nodes in both directions (TCP needs both). Only loopback traffic
// exists here; the rule matches this node's uid alone.
func (c *Cluster) Isolate(n *Node) {
	c.t.Helper()
	if n.UID == 0 {
		c.t.Fatalf("isolating a node needs root: nodes run under their own uid for the iptables owner match")
	}
	if err := ensureIptables(); err != nil {
		c.t.Fatal(err)
	}
	if out, err := ownerRule("-I", n.UID).CombinedOutput(); err != nil {
		c.t.Fatalf("iptables: %v: %s", err, out)
	}
}

// Heal removes Isolate's rule for n (all copies).
func (c *Cluster) Heal(n *Node) {
	if n.UID == 0 {
		return
	}
	for ownerRule("-C", n.UID).Run() == nil {
		if ownerRule("-D", n.UID).Run() != nil {
			return
		}
	}
}
