package jepsen

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Report is what one run found.
type Report struct {
	Seed                int64
	Workload            string
	Nodes               int
	Duration            time.Duration
	Faults              map[string]int
	Windows             []Window
	Ops, OpsUnknown     int
	OpsByKind           map[string]int // admin calls by kind, failed reads included
	ErrorPauses         map[string]int // stage reads that saw a subtask paused by its own error, by code
	Linearizable        string         // porcupine's verdict: Ok, Illegal or Unknown (the check timed out)
	LinearizableSummary string         // the verdict with what was checked and how long it took
	IllegalRecords      []string       // records whose history is not linearizable
	UndecidedRecords    []string       // records whose check timed out
	MaxUnavailable      time.Duration
	RunnerIntervals     int
	HandOvers           int // overlaps within a transfer-source hand-over (the target's epoch check fences them)
	FencingViolations   []string
	Converge            time.Duration
	ConvergeErr         string
	TaskAtEnd           string // the task's stage when the faults ended, and whether it was resumed
	NemesisErrors       []string

	DataChecked    bool
	DataOps        string
	CatchUp        time.Duration // from convergence to target == source, or to giving up
	CaughtUp       bool          // the target equalled the source within the bound
	Lost, Extra    int           // rows missing on / duplicated or only on the target, over all tables
	Divergent      int           // rows with the same key on both sides and different values
	SetChecked     bool
	SetLost        int
	SetUnexpected  int
	BankChecked    bool
	BankReads      int
	BankViolations []string
	Batches        int
	StaleBatches   []string
	DataProblems   []string
}

// OK reports whether every checker passed.
func (r *Report) OK() bool {
	return r.Linearizable == "Ok" && len(r.FencingViolations) == 0 && r.ConvergeErr == "" && strings.HasSuffix(r.TaskAtEnd, "resumed") && len(r.NemesisErrors) == 0 &&
		len(r.DataProblems) == 0 && len(r.BankViolations) == 0 && len(r.StaleBatches) == 0
}

func (r *Report) String() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	kinds := []string{countsText(r.Faults)}
	row := func(k, v string) { fmt.Fprintf(&b, "| %-34s | %s\n", k, v) }
	fmt.Fprintf(&b, "== jepsen run: %s (seed %d) ==\n", verdict, r.Seed)
	row("seed", fmt.Sprint(r.Seed))
	row("workload / nodes", fmt.Sprintf("%s / %d", r.Workload, r.Nodes))
	row("fault phase", r.Duration.Round(time.Second).String())
	row("faults injected", fmt.Sprintf("%d: %s", len(r.Windows), strings.Join(kinds, " ")))
	row("admin operations in history", fmt.Sprintf("%d (%d with unknown outcome, failed reads included)", r.Ops, r.OpsUnknown))
	row("admin calls by kind", countsText(r.OpsByKind))
	if len(r.ErrorPauses) > 0 {
		row("reads of subtasks paused by errors", countsText(r.ErrorPauses))
	}
	row("admin history linearizable", r.LinearizableSummary)
	row("runner intervals checked", fmt.Sprint(r.RunnerIntervals))
	row("fencing violations", fmt.Sprintf("%d (transfer hand-overs under %v excused: %d)", len(r.FencingViolations), handOverBound, r.HandOvers))
	row("max unavailability (admin)", r.MaxUnavailable.Round(time.Millisecond).String())
	conv := r.Converge.Round(time.Millisecond).String()
	if r.ConvergeErr != "" {
		conv += " — " + r.ConvergeErr
	}
	row("time to converge after heal", conv)
	row("task when the faults ended", r.TaskAtEnd)
	if r.DataChecked {
		row("data operations on the source", r.DataOps)
		catchUp := r.CatchUp.Round(time.Millisecond).String()
		if !r.CaughtUp {
			catchUp = "not equal after " + catchUp + " (gave up; the rows below are the difference then)"
		}
		row("target caught up after heal", catchUp)
		row("rows lost / duplicated / divergent", fmt.Sprintf("%d / %d / %d", r.Lost, r.Extra, r.Divergent))
		if r.SetChecked {
			row("set: acked ids lost / unexpected", fmt.Sprintf("%d / %d", r.SetLost, r.SetUnexpected))
		}
		if r.BankChecked {
			row("bank: target reads / violations", fmt.Sprintf("%d / %d", r.BankReads, len(r.BankViolations)))
		}
		row("batches checked / stale epoch", fmt.Sprintf("%d / %d", r.Batches, len(r.StaleBatches)))
	}
	for _, v := range r.IllegalRecords {
		fmt.Fprintf(&b, "NOT LINEARIZABLE: %s\n", v)
	}
	for _, v := range r.UndecidedRecords {
		fmt.Fprintf(&b, "CHECK TIMED OUT: %s\n", v)
	}
	for _, v := range r.FencingViolations {
		fmt.Fprintf(&b, "FENCING: %s\n", v)
	}
	for _, p := range r.DataProblems {
		fmt.Fprintf(&b, "DATA: %s\n", p)
	}
	for i, v := range r.BankViolations {
		if i == 5 {
			fmt.Fprintf(&b, "BANK: ... %d more\n", len(r.BankViolations)-5)
			break
		}
		fmt.Fprintf(&b, "BANK: %s\n", v)
	}
	for _, v := range r.StaleBatches {
		fmt.Fprintf(&b, "STALE: %s\n", v)
	}
	for _, e := range r.NemesisErrors {
		fmt.Fprintf(&b, "NEMESIS: %s\n", e)
	}
	fmt.Fprintf(&b, "faults:\n")
	for _, w := range r.Windows {
		fmt.Fprintf(&b, "  %s\n", w)
	}
	if !r.OK() {
		fmt.Fprintf(&b, "reproduce with: make jepsen SEED=%d\n", r.Seed)
	}
	return b.String()
}

// countsText renders counts by kind as "a=1 b=2", sorted by kind.
func countsText(counts map[string]int) string {
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
