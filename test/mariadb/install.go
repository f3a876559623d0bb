package mariadb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
)

// installLock serialises installs across processes (parallel test packages,
// scripts/ensure-mariadb.sh uses the same file).
const installLock = "/tmp/mariadb-fixture-install.lock"

// Places where Debian and tarball installs put the binaries; /usr/sbin is
// often missing from a non-root PATH.
var binDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin"}

var installMu sync.Mutex

// lookBin finds a MariaDB binary in PATH or in the usual directories.
func lookBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range binDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("mariadb: %s not found in PATH or %v", name, binDirs)
}

func installed() bool {
	_, err1 := lookBin("mariadbd")
	_, err2 := lookBin("mariadb-install-db")
	return err1 == nil && err2 == nil
}

// EnsureInstalled makes sure mariadbd and mariadb-install-db are present,
// installing Debian's mariadb-server package with apt-get when they are not.
// It is idempotent and safe to call concurrently from several processes.
// Installing needs root; otherwise it returns an error explaining what to
// run. The system service is never started.
func EnsureInstalled() error {
	installMu.Lock()
	defer installMu.Unlock()
	if installed() {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("mariadb: mariadbd is not installed and installing it needs root: " +
			"run `sudo scripts/ensure-mariadb.sh` (or `apt-get install mariadb-server`)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("mariadb: mariadbd is not installed and apt-get is not available: install MariaDB 10.11+ by hand")
	}
	f, err := os.OpenFile(installLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return fmt.Errorf("mariadb: install lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("mariadb: install lock: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if installed() { // another process installed it while we waited
		return nil
	}
	// Keep dpkg from starting the system service (port 3306) on install.
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); os.IsNotExist(err) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
			return fmt.Errorf("mariadb: writing %s: %w", policy, err)
		}
		defer os.Remove(policy)
	}
	for _, args := range [][]string{
		{"update"},
		{"install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=600", "mariadb-server"},
	} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mariadb: apt-get %s: %v\n%s", args[0], err, tail(string(out), 20))
		}
	}
	if !installed() {
		return fmt.Errorf("mariadb: mariadb-server installed but mariadbd/mariadb-install-db still not found")
	}
	return nil
}
