//go:build unix && !linux

package mariadb

import (
	"syscall"
	"time"
)

// sysProcAttr puts mariadbd in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitStopped gives SIGSTOP time to reach every thread.
func waitStopped(pid int) { time.Sleep(50 * time.Millisecond) }
