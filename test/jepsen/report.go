package jepsen

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Report is what one run found.
type Report struct {
	Seed              int64
	Duration          time.Duration
	Faults            map[string]int
	Windows           []Window
	Ops, OpsUnknown   int
	Linearizable      string
	MaxUnavailable    time.Duration
	RunnerIntervals   int
	FencingViolations []string
	Converge          time.Duration
	ConvergeErr       string
	NemesisErrors     []string

	DataChecked    bool
	DataOps        string
	CatchUp        time.Duration // from convergence to target == source
	Lost, Extra    int           // rows missing on / only on the target, over all tables
	SetLost        int
	SetUnexpected  int
	BankReads      int
	BankViolations []string
	Batches        int
	StaleBatches   []string
	DataProblems   []string
}

// OK reports whether every checker passed.
func (r *Report) OK() bool {
	return r.Linearizable == "Ok" && len(r.FencingViolations) == 0 && r.ConvergeErr == "" && len(r.NemesisErrors) == 0 &&
		len(r.DataProblems) == 0 && len(r.BankViolations) == 0 && len(r.StaleBatches) == 0
}

func (r *Report) String() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	var kinds []string
	for k, n := range r.Faults {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	row := func(k, v string) { fmt.Fprintf(&b, "| %-34s | %s\n", k, v) }
	fmt.Fprintf(&b, "== jepsen run: %s (seed %d) ==\n", verdict, r.Seed)
	row("seed", fmt.Sprint(r.Seed))
	row("fault phase", r.Duration.Round(time.Second).String())
	row("faults injected", strings.Join(kinds, " "))
	row("admin operations", fmt.Sprintf("%d (%d with unknown outcome)", r.Ops, r.OpsUnknown))
	row("admin history linearizable", r.Linearizable)
	row("runner intervals checked", fmt.Sprint(r.RunnerIntervals))
	row("fencing violations", fmt.Sprint(len(r.FencingViolations)))
	row("max unavailability (admin)", r.MaxUnavailable.Round(time.Millisecond).String())
	conv := r.Converge.Round(time.Millisecond).String()
	if r.ConvergeErr != "" {
		conv += " — " + r.ConvergeErr
	}
	row("time to converge after heal", conv)
	if r.DataChecked {
		row("data operations on the source", r.DataOps)
		row("target caught up after heal", r.CatchUp.Round(time.Millisecond).String())
		row("rows lost / extra on target", fmt.Sprintf("%d / %d", r.Lost, r.Extra))
		row("set: acked ids lost / unexpected", fmt.Sprintf("%d / %d", r.SetLost, r.SetUnexpected))
		row("bank: target reads / violations", fmt.Sprintf("%d / %d", r.BankReads, len(r.BankViolations)))
		row("batches checked / stale epoch", fmt.Sprintf("%d / %d", r.Batches, len(r.StaleBatches)))
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
