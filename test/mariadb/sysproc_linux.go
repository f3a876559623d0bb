package mariadb

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// sysProcAttr puts mariadbd in its own process group (a terminal's Ctrl-C
// goes to the program, which then closes its servers) and kills it if the
// program dies without closing it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits until every thread of pid is stopped: SIGSTOP is
// asynchronous, and a thread still running could answer one more query.
func waitStopped(pid int) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return // gone
		}
		running := false
		for _, task := range tasks {
			b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
			if err != nil {
				continue
			}
			// "pid (comm) S ...": the state follows the last ')'.
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
				switch b[i+2] {
				case 'T', 't', 'Z', 'X':
				default:
					running = true
				}
			}
		}
		if !running {
			return
		}
	}
}
