package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const identityFile = "identity.json"

// identity is what a data dir remembers about its owner: the node name it
// was created for and the cluster it belongs to (empty until bootstrap or
// join sets it).
type identity struct {
	Name      string `json:"name"`
	ClusterID string `json:"cluster_id,omitempty"`
}

// readIdentity reads dir/identity.json; found is false if it does not exist.
func readIdentity(dir string) (id identity, found bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, fs.ErrNotExist) {
		return identity{}, false, nil
	}
	if err != nil {
		return identity{}, false, fmt.Errorf("read identity: %w", err)
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return identity{}, false, fmt.Errorf("decode %s: %w", filepath.Join(dir, identityFile), err)
	}
	return id, true, nil
}

// writeIdentity replaces dir/identity.json atomically and durably.
func writeIdentity(dir string, id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("encode identity: %w", err)
	}
	tmp := filepath.Join(dir, identityFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, identityFile))
	}
	if err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; best effort on odd filesystems
		_ = d.Close()
	}
	return nil
}

// newClusterID returns a random 128-bit cluster id in hex.
func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// SetClusterID records the id of the cluster this node joined. It fails if
// the data dir already belongs to another cluster.
func (n *Node) SetClusterID(id string) error {
	if id == "" {
		return errors.New("set cluster id: empty id")
	}
	n.idMu.Lock()
	defer n.idMu.Unlock()
	switch n.identity.ClusterID {
	case id:
		return nil
	case "":
	default:
		return fmt.Errorf("data dir %s belongs to cluster %s, not %s: use an empty --data-dir to join cluster %s",
			n.cfg.DataDir, n.identity.ClusterID, id, id)
	}
	next := n.identity
	next.ClusterID = id
	if err := writeIdentity(n.cfg.DataDir, next); err != nil {
		return err
	}
	n.identity = next
	return nil
}

// ClusterID returns the id of the cluster this node belongs to; empty until
// it bootstrapped or SetClusterID was called.
func (n *Node) ClusterID() string {
	n.idMu.Lock()
	defer n.idMu.Unlock()
	return n.identity.ClusterID
}
