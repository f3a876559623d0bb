package golden

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the .golden transcripts from the scripts")

// Run runs every file matching pattern (e.g. "testdata/*.script") as a
// subtest named after the file: transcript(t, script) must equal the file
// of the same name ending in .golden. With -rewrite it writes that file
// instead.
func Run(t *testing.T, pattern string, transcript func(t *testing.T, script string) string) {
	t.Helper()
	scripts, err := filepath.Glob(pattern)
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts match %s: %v", pattern, err)
	}
	for _, script := range scripts {
		ext := filepath.Ext(script)
		t.Run(strings.TrimSuffix(filepath.Base(script), ext), func(t *testing.T) {
			in, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			got := transcript(t, string(in))
			golden := strings.TrimSuffix(script, ext) + ".golden"
			if *rewrite {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs; run with -rewrite and review the diff.\ngot:\n%s", golden, got)
			}
		})
	}
}

// EachStep writes every line of script to out and, after each line that is
// neither blank nor a comment (starting with #), calls step with the line
// and its number (from 1), so that what step writes to out stands under its
// line.
func EachStep(script string, out io.Writer, step func(number int, line string)) {
	for i, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		fmt.Fprintln(out, line)
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		step(i+1, line)
	}
}
