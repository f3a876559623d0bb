package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
)

// The JSON of query-status follows DM's shape: per source a sourceStatus and
// a list of subTaskStatus.
type (
	errorJSON struct {
		ErrCode    string `json:"ErrCode"`
		ErrClass   string `json:"ErrClass"`
		Message    string `json:"Message"`
		Workaround string `json:"Workaround"`
		Unit       string `json:"Unit,omitempty"`
	}
	subTaskJSON struct {
		Name          string          `json:"name"`
		Stage         string          `json:"stage"`
		DesiredStage  string          `json:"desiredStage"`
		Unit          string          `json:"unit"`
		UnitDetail    string          `json:"unitDetail,omitempty"`
		Revision      uint64          `json:"revision"`
		FinishedUnits []string        `json:"finishedUnits"`
		Result        *resultJSON     `json:"result"`
		Progress      json.RawMessage `json:"progress,omitempty"`
	}
	resultJSON struct {
		IsCanceled bool        `json:"isCanceled"`
		Errors     []errorJSON `json:"errors"`
	}
	sourceStatusJSON struct {
		Source string `json:"source"`
		Worker string `json:"worker"`
		Epoch  uint64 `json:"epoch"`
	}
	sourceJSONStatus struct {
		Result        bool             `json:"result"`
		Msg           string           `json:"msg"`
		SourceStatus  sourceStatusJSON `json:"sourceStatus"`
		SubTaskStatus []subTaskJSON    `json:"subTaskStatus"`
	}
	taskListJSON struct {
		TaskName   string   `json:"taskName"`
		TaskStatus string   `json:"taskStatus"`
		Sources    []string `json:"sources"`
	}
)

func queryStatusCommand(g *globals) *cobra.Command {
	var sources []string
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "query-status [TASK|task.yaml]",
		Short: "Show tasks; with a task, each source's stage, unit, worker and errors",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			req := &pb.QueryStatusRequest{Sources: sources}
			if len(args) == 1 {
				name, err := taskNameOf(args[0])
				if err != nil {
					return err
				}
				req.Name = name
			}
			query := func() (*pb.QueryStatusResponse, error) {
				return call(g, func(ctx context.Context, c *rpc.Client) (*pb.QueryStatusResponse, error) {
					return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.QueryStatusResponse, error) {
						return a.QueryStatus(ctx, req)
					})
				})
			}
			if watch > 0 {
				if req.Name == "" {
					return fmt.Errorf("--watch needs a task name")
				}
				for {
					resp, err := query()
					if err != nil {
						return err
					}
					printWatch(resp.Tasks[0], time.Now())
					if settled(resp.Tasks[0]) {
						return nil
					}
					time.Sleep(watch)
				}
			}
			resp, err := query()
			if err != nil {
				return err
			}
			if req.Name == "" {
				return printTaskList(g, resp)
			}
			return printTaskStatus(g, resp.Tasks[0])
		},
	}
	cmd.Flags().StringSliceVarP(&sources, "source", "s", nil, "only these sources")
	cmd.Flags().DurationVarP(&watch, "watch", "w", 0, "refresh every interval (e.g. 1s) with a progress bar, until every subtask is finished, synced, paused or failed")
	return cmd
}

func printTaskList(g *globals, resp *pb.QueryStatusResponse) error {
	tasks := []taskListJSON{}
	var rows [][]string
	for _, t := range resp.Tasks {
		var srcs []string
		for _, st := range t.Subtasks {
			srcs = append(srcs, st.SourceId)
		}
		status := t.Stage
		for _, st := range t.Subtasks {
			if st.LastError != nil {
				status = "Error - " + st.LastError.Message
			}
		}
		tasks = append(tasks, taskListJSON{t.Name, status, append([]string{}, srcs...)})
		rows = append(rows, []string{t.Name, t.TaskMode, status, strings.Join(srcs, ",")})
	}
	if g.output == "json" {
		return printJSON(map[string]any{"result": true, "msg": "", "tasks": tasks})
	}
	table([]string{"TASK", "MODE", "STATUS", "SOURCES"}, rows)
	return nil
}

// liveStage is the stage a person should see: the runner's when the bound
// node answered, else the desired stage with why nothing runs.
func liveStage(st *pb.SubtaskStatus) (stage, unit, detail string) {
	if st.Runner != nil {
		return st.Runner.Stage, st.Runner.Unit, st.Runner.UnitDetail
	}
	return st.DesiredStage, "", st.RunnerError
}

func printTaskStatus(g *globals, t *pb.TaskStatus) error {
	var out []sourceJSONStatus
	var rows [][]string
	for _, st := range t.Subtasks {
		stage, unit, detail := liveStage(st)
		sub := subTaskJSON{Name: t.Name, Stage: stage, DesiredStage: st.DesiredStage, Unit: unit, UnitDetail: detail,
			Revision: st.Revision, FinishedUnits: []string{}}
		for _, m := range st.FinishedUnits {
			sub.FinishedUnits = append(sub.FinishedUnits, m.Unit)
		}
		if e := st.LastError; e != nil {
			sub.Result = &resultJSON{Errors: []errorJSON{{e.Code, e.Class, e.Message, e.Workaround, e.Unit}}}
		}
		if st.Runner != nil && st.Runner.ProgressJson != "" {
			sub.Progress = json.RawMessage(st.Runner.ProgressJson)
		}
		out = append(out, sourceJSONStatus{Result: true, SourceStatus: sourceStatusJSON{st.SourceId, st.Worker, st.Epoch},
			SubTaskStatus: []subTaskJSON{sub}})
		errText := "-"
		if st.LastError != nil {
			errText = st.LastError.Message + " (" + st.LastError.Workaround + ")"
		}
		rows = append(rows, []string{st.SourceId, orDash(st.Worker), fmt.Sprint(st.Epoch), stage, orDash(unit), orDash(detail), errText})
	}
	if g.output == "json" {
		return printJSON(map[string]any{"result": true, "msg": "", "sources": out})
	}
	fmt.Printf("task %s (mode %s, revision %d)\n", t.Name, t.TaskMode, t.Revision)
	table([]string{"SOURCE", "WORKER", "EPOCH", "STAGE", "UNIT", "DETAIL", "ERROR"}, rows)
	return nil
}
