package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds dmnode and dmctl once per test process and returns their paths.
func Binaries() (dmnode, dmctl string, err error) {
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "dmraft-bin-")
		if err != nil {
			buildErr = err
			return
		}
		// World-readable, so nodes running under their own uid can exec them.
		_ = os.Chmod(buildDir, 0o755)
		cmd := exec.Command("go", "build", "-o", buildDir+"/", "./cmd/dmnode", "./cmd/dmctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	return filepath.Join(buildDir, "dmnode"), filepath.Join(buildDir, "dmctl"), buildErr
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the dmraft module")
	}
	return filepath.Dir(mod), nil
}
