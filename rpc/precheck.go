package rpc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dmraft/dmraft/executor/precheck"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// precheckTask runs the server checks of package precheck for t, with the
// sources as registered in v (unknown sources are skipped: the caller
// reports them).
func (s *Server) precheckTask(ctx context.Context, t *config.Task, v *fsm.View) []*pb.CheckItem {
	sources := map[string]*config.Source{}
	for _, id := range t.SourceIDs() {
		if rec, found := v.Sources[id]; found {
			if src, err := config.SourceFromProto(rec.GetConfig()); err == nil {
				sources[id] = src
			}
		}
	}
	var out []*pb.CheckItem
	for _, it := range precheck.Task(ctx, t, sources, s.secret) {
		out = append(out, &pb.CheckItem{Name: it.Name, State: it.State, Message: it.Message, Fix: it.Fix})
	}
	return out
}

// refuseOnPrecheck is start-task's hook: it runs the precheck unless the
// task ignores "all" checking items, and returns an error listing every
// failed item with its fix.
func (s *Server) refuseOnPrecheck(ctx context.Context, yamlText string, v *fsm.View) error {
	t, err := config.ParseTask([]byte(yamlText))
	if err != nil || slices.Contains(t.IgnoreCheckingItems, "all") {
		return nil // parse errors are reported by the caller
	}
	var fails []string
	for _, it := range s.precheckTask(ctx, t, v) {
		if it.State == precheck.Fail {
			fails = append(fails, fmt.Sprintf("%s: %s (fix: %s)", it.Name, it.Message, it.Fix))
		}
	}
	if len(fails) == 0 {
		return nil
	}
	return invalid(fmt.Errorf("precheck failed; fix these or list them in ignore-checking-items (`dmctl check-task` shows all items):\n  %s", strings.Join(fails, "\n  ")))
}
