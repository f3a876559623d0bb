package jepsen

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// readRecordedHistory parses a history written by the checker's
// explanation (one line per operation: "client N CALL..RETURN
// kind(key) -> result").
func readRecordedHistory(t *testing.T, path string) []porcupine.Operation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var ops []porcupine.Operation
	sc := bufio.NewScanner(gz)
	for sc.Scan() {
		var client int
		var span, call, result string
		if _, err := fmt.Sscanf(sc.Text(), "client %d %s %s -> %s", &client, &span, &call, &result); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		from, to, _ := strings.Cut(span, "..")
		c, err := time.ParseDuration(from)
		if err != nil {
			t.Fatal(err)
		}
		r := int64(1 << 62)
		if to != "never" {
			d, err := time.ParseDuration(to)
			if err != nil {
				t.Fatal(err)
			}
			r = int64(d)
		}
		kind, key, _ := strings.Cut(strings.TrimSuffix(call, ")"), "(")
		out := adminResult{}
		switch {
		case result == "?":
			out.Unknown = true
		case strings.HasPrefix(result, "paused="):
			out.OK, out.Paused = true, result == "paused=true"
		default:
			out.OK = result == "true"
		}
		ops = append(ops, porcupine.Operation{ClientId: client, Input: adminOp{Kind: kind, Key: key}, Call: int64(c), Output: out, Return: r})
	}
	return ops
}

// TestRecordedStageHistory checks the stage history of the 5-minute run
// with seed 120 (2382 operations, 131 writes of unknown outcome). With its
// unknown writes left open-ended, the check of the same history with one
// read of mixed stages did not finish in minutes (the run reported
// Unknown); as pending effects, both verdicts come in milliseconds.
func TestRecordedStageHistory(t *testing.T) {
	const bound = 10 * time.Second
	ops := readRecordedHistory(t, "testdata/stage-seed120.txt.gz")
	start := time.Now()
	if got := checkLinearizable(ops, bound); got != porcupine.Ok {
		t.Fatalf("recorded history: %s after %v, want Ok", got, time.Since(start))
	}
	t.Logf("%d operations: Ok in %v", len(ops), time.Since(start))

	// The read that the run's partial linearization stopped at, as a read
	// of mixed stages: proving that illegal is the exhaustive search.
	marked := 0
	for i, op := range ops {
		if op.ClientId == 2 && op.Call == 162392329699 {
			out := op.Output.(adminResult)
			out.Mixed = true
			ops[i].Output = out
			marked++
		}
	}
	if marked != 1 {
		t.Fatalf("marked %d reads, want 1", marked)
	}
	start = time.Now()
	if got := checkLinearizable(ops, bound); got != porcupine.Illegal {
		t.Fatalf("with a mixed read: %s after %v, want Illegal", got, time.Since(start))
	}
	t.Logf("with a mixed read: Illegal in %v", time.Since(start))
}
