package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// uidBlock reserves a block of 10 node uids for one cluster across every
// test process on the machine, so that two test binaries running at once
// never give their nodes the same uid (an iptables owner rule of one would
// cut the other's nodes off). The reservation is an exclusive flock on a
// file under the temp dir; the kernel drops it when the process exits.
type uidBlock struct {
	id int
	f  *os.File
}

const maxUIDBlocks = 500

func reserveUIDBlock() (*uidBlock, error) {
	dir := filepath.Join(os.TempDir(), "dmraft-uid-blocks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for id := 1; id <= maxUIDBlocks; id++ {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.lock", id)), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return &uidBlock{id: id, f: f}, nil
	}
	return nil, fmt.Errorf("all %d node uid blocks under %s are taken by running test processes", maxUIDBlocks, dir)
}

func (b *uidBlock) release() {
	if b != nil && b.f != nil {
		b.f.Close()
	}
}
