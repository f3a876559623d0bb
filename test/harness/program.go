package harness

import (
	"fmt"
	"os"
	"sync"
)

// ProgramTB lets a program (the demo, a benchmark) use the harness: Fatal
// runs the cleanups and exits with status 1.
type ProgramTB struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// Helper does nothing.
func (p *ProgramTB) Helper() {}

// Logf prints a line.
func (p *ProgramTB) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// Fatal prints, cleans up and exits.
func (p *ProgramTB) Fatal(args ...any) { p.Fatalf("%s", fmt.Sprint(args...)) }

// Fatalf prints, cleans up and exits.
func (p *ProgramTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
	p.Close()
	os.Exit(1)
}

// Cleanup registers f to run at Close, last first.
func (p *ProgramTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

// Failed reports whether Fatal was called.
func (p *ProgramTB) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// Close runs the cleanups.
func (p *ProgramTB) Close() {
	p.mu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
