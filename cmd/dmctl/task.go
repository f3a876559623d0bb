package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
)

func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// taskNameOf accepts a task name or, as DM does, the task.yaml.
func taskNameOf(arg string) (string, error) {
	return nameOrFile(arg, func(data []byte) (string, error) {
		t, err := config.ParseTask(data)
		if err != nil {
			return "", err
		}
		return t.Name, nil
	})
}

func startTaskCommand(g *globals) *cobra.Command {
	var sources []string
	var removeMeta bool
	var startTime string
	cmd := &cobra.Command{
		Use:   "start-task task.yaml",
		Short: "Start a task: one subtask per source, run on the node each source is bound to",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			text, err := readFile(args[0])
			if err != nil {
				return err
			}
			req := &pb.StartTaskRequest{TaskYaml: text, Sources: sources, RemoveMeta: removeMeta}
			if startTime != "" {
				at, err := parseStartTime(startTime, time.Local)
				if err != nil {
					return err
				}
				req.StartTimeUnix = at.Unix()
			}
			return taskCall(g, func(ctx context.Context, a pb.AdminClient) (*pb.TaskResponse, error) { return a.StartTask(ctx, req) })
		},
	}
	cmd.Flags().StringSliceVarP(&sources, "source", "s", nil, "start only these sources of the task")
	cmd.Flags().BoolVar(&removeMeta, "remove-meta", false, "accepted for DM compatibility; checkpoints are kept")
	cmd.Flags().StringVar(&startTime, "start-time", "", "task-mode incremental: start at the first binlog transaction at or after this time, "+
		"e.g. '2021-10-21 00:01:00' or 2021-10-21T00:01:00 (local time unless an offset is given)")
	return cmd
}

func updateTaskCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "update-task task.yaml",
		Short: "Give a task a new configuration (a new revision); runners restart from their checkpoints",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			text, err := readFile(args[0])
			if err != nil {
				return err
			}
			req := &pb.StartTaskRequest{TaskYaml: text}
			return taskCall(g, func(ctx context.Context, a pb.AdminClient) (*pb.TaskResponse, error) { return a.UpdateTask(ctx, req) })
		},
	}
}

// taskOpCommand builds stop-task, pause-task and resume-task.
func taskOpCommand(g *globals, use, short string, op func(context.Context, pb.AdminClient, *pb.TaskOpRequest) (*pb.TaskResponse, error)) *cobra.Command {
	var sources []string
	cmd := &cobra.Command{
		Use:   use + " TASK|task.yaml",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, err := taskNameOf(args[0])
			if err != nil {
				return err
			}
			req := &pb.TaskOpRequest{Name: name, Sources: sources}
			return taskCall(g, func(ctx context.Context, a pb.AdminClient) (*pb.TaskResponse, error) { return op(ctx, a, req) })
		},
	}
	cmd.Flags().StringSliceVarP(&sources, "source", "s", nil, "only these sources")
	return cmd
}

func stopTaskCommand(g *globals) *cobra.Command {
	return taskOpCommand(g, "stop-task", "Stop and remove a task (checkpoints on the target are kept)",
		func(ctx context.Context, a pb.AdminClient, r *pb.TaskOpRequest) (*pb.TaskResponse, error) {
			return a.StopTask(ctx, r)
		})
}

func pauseTaskCommand(g *globals) *cobra.Command {
	return taskOpCommand(g, "pause-task", "Pause a task's subtasks",
		func(ctx context.Context, a pb.AdminClient, r *pb.TaskOpRequest) (*pb.TaskResponse, error) {
			return a.PauseTask(ctx, r)
		})
}

func resumeTaskCommand(g *globals) *cobra.Command {
	return taskOpCommand(g, "resume-task", "Resume paused subtasks (this also retries a subtask paused by an error)",
		func(ctx context.Context, a pb.AdminClient, r *pb.TaskOpRequest) (*pb.TaskResponse, error) {
			return a.ResumeTask(ctx, r)
		})
}

func taskCall(g *globals, fn func(context.Context, pb.AdminClient) (*pb.TaskResponse, error)) error {
	resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.TaskResponse, error) { return rpc.Call(ctx, c, fn) })
	if err != nil {
		return err
	}
	type subtaskJSON struct {
		Source string `json:"source"`
		Worker string `json:"worker"`
		Result string `json:"result"`
	}
	subs := []subtaskJSON{}
	var rows [][]string
	for _, st := range resp.Subtasks {
		subs = append(subs, subtaskJSON{st.SourceId, st.Worker, st.Result})
		rows = append(rows, []string{resp.Name, st.SourceId, orDash(st.Worker), st.Result})
	}
	if g.output == "json" {
		return printJSON(map[string]any{"result": true, "task": resp.Name, "revision": resp.Revision, "sources": subs})
	}
	table([]string{"TASK", "SOURCE", "WORKER", "RESULT"}, rows)
	return nil
}

func checkTaskCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check-task task.yaml",
		Short: "Check a task.yaml and what it needs before start-task",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			text, err := readFile(args[0])
			if err != nil {
				return err
			}
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.CheckTaskResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.CheckTaskResponse, error) {
					return a.CheckTask(ctx, &pb.CheckTaskRequest{TaskYaml: text})
				})
			})
			if err != nil {
				return err
			}
			type itemJSON struct {
				Name    string `json:"name"`
				State   string `json:"state"`
				Message string `json:"message,omitempty"`
				Fix     string `json:"fix,omitempty"`
			}
			items := []itemJSON{}
			var rows [][]string
			for _, it := range resp.Items {
				items = append(items, itemJSON{it.Name, it.State, it.Message, it.Fix})
				rows = append(rows, []string{it.Name, it.State, orDash(it.Message), orDash(it.Fix)})
			}
			if g.output == "json" {
				if err := printJSON(map[string]any{"result": resp.Ok, "checks": items}); err != nil {
					return err
				}
			} else {
				table([]string{"CHECK", "STATE", "MESSAGE", "FIX"}, rows)
			}
			if !resp.Ok {
				return fmt.Errorf("check-task failed: fix the items marked fail")
			}
			return nil
		},
	}
}

// startTimeLayouts are the forms --start-time accepts, as DM's.
var startTimeLayouts = []string{time.DateTime, "2006-01-02T15:04:05", time.RFC3339}

// parseStartTime reads --start-time in loc unless the text has an offset.
func parseStartTime(text string, loc *time.Location) (time.Time, error) {
	for _, l := range startTimeLayouts {
		if at, err := time.ParseInLocation(l, strings.TrimSpace(text), loc); err == nil {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("--start-time %q: use '2006-01-02 15:04:05', 2006-01-02T15:04:05 or RFC 3339 with an offset", text)
}
