package mariadb

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestPortReservedAcrossProcesses: a port another test process reserved
// is not handed out here until that process exits.
func TestPortReservedAcrossProcesses(t *testing.T) {
	if v := os.Getenv("DMRAFT_HOLD_PORT"); v != "" { // the helper process
		p, _ := strconv.Atoi(v)
		if !reservePort(p) {
			fmt.Println("busy")
			os.Exit(0)
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
		os.Exit(0)
	}
	p := portHigh - 1 - os.Getpid()%1000
	cmd := exec.Command(os.Args[0], "-test.run=^TestPortReservedAcrossProcesses$")
	cmd.Env = append(os.Environ(), "DMRAFT_HOLD_PORT="+strconv.Itoa(p))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "held\n" {
		stdin.Close()
		cmd.Wait()
		t.Skipf("port %d is held by another test process (%q)", p, line)
	}
	if reservePort(p) {
		t.Fatalf("port %d reserved here while the helper process holds it", p)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !reservePort(p) {
		t.Fatalf("port %d still taken after the helper process exited", p)
	}
}
