package jepsen

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// adminCheckTimeout bounds the check of one record's history. Histories
// of five-minute runs (thousands of operations, a hundred pending writes
// in one record) check in well under a second; a record that still times
// out is reported as such (CHECK TIMED OUT), never as a pass.
const adminCheckTimeout = 2 * time.Minute

// recordCheck is the linearizability check of one record's history.
type recordCheck struct {
	Record string
	Ops    int // operations checked, after pendingHistory
	Result porcupine.CheckResult
	Took   time.Duration
	Files  string // where its history and porcupine's visualization were written
}

func (c recordCheck) String() string {
	line := fmt.Sprintf("%s: %s over %d operations", c.Record, c.Result, c.Ops)
	if c.Result == porcupine.Unknown {
		line += fmt.Sprintf(" (the checker gave up after %v: neither a violation found nor excluded)", c.Took.Round(time.Second))
	}
	if c.Files != "" {
		line += " (" + c.Files + ")"
	}
	return line
}

// adminCheck is the check of a whole admin history.
type adminCheck struct {
	Result  porcupine.CheckResult // Illegal if a record is, else Unknown if a check timed out, else Ok
	Checked int                   // operations checked, after pendingHistory
	Took    time.Duration
	Records []recordCheck // every record, by name
}

// Summary is the report's one-line verdict.
func (a adminCheck) Summary() string {
	slowest := recordCheck{}
	for _, r := range a.Records {
		if r.Took >= slowest.Took {
			slowest = r
		}
	}
	s := fmt.Sprintf("%s (%d records, %d operations checked in %v", a.Result, len(a.Records), a.Checked, a.Took.Round(time.Millisecond))
	if slowest.Record != "" {
		s += fmt.Sprintf("; slowest %s: %v", slowest.Record, slowest.Took.Round(time.Millisecond))
	}
	return s + ")"
}

// failed returns the records whose check did not say Ok, with the result
// given.
func (a adminCheck) failed(res porcupine.CheckResult) []recordCheck {
	var out []recordCheck
	for _, r := range a.Records {
		if r.Result == res {
			out = append(out, r)
		}
	}
	return out
}

// checkLinearizable checks a recorded admin history against adminModel.
func checkLinearizable(ops []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(adminModel, pendingHistory(ops), timeout)
}

// checkAdminHistory checks each record's history on its own, each within
// timeout. With a non-empty prefix it writes, for each record that is not
// Ok, its history to prefix + record + ".txt" and, when porcupine found
// it illegal, porcupine's visualization to prefix + record + ".html".
func checkAdminHistory(ops []porcupine.Operation, timeout time.Duration, prefix string) adminCheck {
	start := time.Now()
	model := adminModel
	model.Partition = nil
	checked := pendingHistory(ops)
	out := adminCheck{Result: porcupine.Ok, Checked: len(checked)}
	for _, list := range partitionByRecord(checked) {
		rc := recordCheck{Record: partitionKey(list[0]), Ops: len(list)}
		t0 := time.Now()
		rc.Result = porcupine.CheckOperationsTimeout(model, list, timeout)
		rc.Took = time.Since(t0)
		if rc.Result != porcupine.Ok && prefix != "" {
			rc.Files = writeRecordHistory(model, list, rc, timeout, prefix)
		}
		switch {
		case rc.Result == porcupine.Illegal:
			out.Result = porcupine.Illegal
		case rc.Result == porcupine.Unknown && out.Result == porcupine.Ok:
			out.Result = porcupine.Unknown
		}
		out.Records = append(out.Records, rc)
	}
	out.Took = time.Since(start)
	return out
}

// writeRecordHistory writes a record's history as text, one operation a
// line, and for an illegal one porcupine's visualization; it returns what
// it wrote.
func writeRecordHistory(model porcupine.Model, list []porcupine.Operation, rc recordCheck, timeout time.Duration, prefix string) string {
	base := prefix + strings.ReplaceAll(rc.Record, "/", "-")
	sorted := append([]porcupine.Operation(nil), list...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	var text strings.Builder
	for _, op := range sorted {
		fmt.Fprintf(&text, "client %d %v..%v %s\n", op.ClientId, time.Duration(op.Call), time.Duration(op.Return), model.DescribeOperation(op.Input, op.Output))
	}
	var wrote []string
	if err := os.WriteFile(base+".txt", []byte(text.String()), 0o644); err == nil {
		wrote = append(wrote, "history: "+base+".txt")
	} else {
		wrote = append(wrote, "history: "+err.Error())
	}
	if rc.Result == porcupine.Illegal {
		_, info := porcupine.CheckOperationsVerbose(model, list, timeout)
		if err := porcupine.VisualizePath(model, info, base+".html"); err == nil {
			wrote = append(wrote, "visualization: "+base+".html")
		} else {
			wrote = append(wrote, "visualization: "+err.Error())
		}
	}
	return strings.Join(wrote, ", ")
}
