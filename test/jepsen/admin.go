package jepsen

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
	"github.com/dmraft/dmraft/test/harness"
)

// opStatus is query-status: it reads the task's stage and revision.
const opStatus = "status"

// adminOp is the input of one admin operation in the history.
type adminOp struct {
	Kind string // see the op* constants
	Key  string // the source id (create/remove/show), the task name, or the bound source
	Node string // transfer: the node asked to take the source
}

// adminResult is its output. Unknown: the call failed in a way that does
// not say whether it took effect (timeout, connection lost).
type adminResult struct {
	OK       bool // write applied; show: the source exists
	Unknown  bool
	Paused   bool   // status: the desired stage of the task's subtasks is Paused
	Revision uint64 // update (the new revision), status
	Node     string // transfer, bound: the node the source is bound to
	Epoch    uint64 // transfer, bound: the binding's epoch
	Mixed    bool   // status: some subtasks paused, others not
}

// adminWorkload runs clients that call the admin API through random nodes,
// each call tried once, and records the history: creating, removing and
// reading a few spare sources; pausing, resuming, updating and reading the
// data task; moving the data sources with transfer-source and reading
// their bindings.
type adminWorkload struct {
	c       *harness.Cluster
	clients int
	ids     []string // spare source ids
	timeout time.Duration
	start   time.Time
	pool    *rpc.ConnPool
	task    *taskSpec // nil: no task operations

	mu  sync.Mutex
	seq int64
	ops []porcupine.Operation
	ok  []time.Time // completion times of successful calls

	counts map[string]int // operations by kind (with a definite outcome or not)
	// errorPauses counts stage reads that saw a subtask paused by its own
	// unit error, by error code.
	errorPauses map[string]int
}

// taskSpec is the data task the admin workload operates on.
type taskSpec struct {
	name    string
	sources []string
	// yaml renders the task's configuration for update-task; each update
	// changes the sync unit's worker count so the runners restart.
	yaml func(workers int) string
}

func (w *adminWorkload) now() int64 { return int64(time.Since(w.start)) }

func (w *adminWorkload) nextID() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return w.seq
}

func (w *adminWorkload) run(stop <-chan struct{}, seed int64) {
	var wg sync.WaitGroup
	for i := 0; i < w.clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(id)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				w.step(id, rng)
				time.Sleep(time.Duration(rng.Intn(50)) * time.Millisecond)
			}
		}(i)
	}
	wg.Wait()
}

// choose picks the next operation. Client 0 alone writes the task and the
// bindings (one writer keeps update-task's reported revision exact), a
// few times a second at most so the data keeps flowing between them.
func (w *adminWorkload) choose(client int, rng *rand.Rand) adminOp {
	if w.task != nil {
		switch r := rng.Intn(20); {
		case r < 2:
			return adminOp{Kind: opStatus, Key: w.task.name} // recorded as opStageRead and opRevisionRead
		case r < 4:
			return adminOp{Kind: opBound, Key: w.task.sources[rng.Intn(len(w.task.sources))]}
		case client == 0 && r < 9:
			kinds := []string{opPause, opResume, opResume, opUpdate, opTransfer}
			op := adminOp{Kind: kinds[rng.Intn(len(kinds))], Key: w.task.name}
			if op.Kind == opTransfer {
				op.Key = w.task.sources[rng.Intn(len(w.task.sources))]
				op.Node = w.c.Nodes[rng.Intn(len(w.c.Nodes))].Name
			}
			return op
		}
	}
	return adminOp{Kind: []string{opCreate, opRemove, opShow, opShow}[rng.Intn(4)], Key: w.ids[rng.Intn(len(w.ids))]}
}

func (w *adminWorkload) step(client int, rng *rand.Rand) {
	op := w.choose(client, rng)
	node := w.c.Nodes[rng.Intn(len(w.c.Nodes))]
	call := w.now()
	res := w.invoke(node.Addr, op, rng)
	ret := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.counts == nil {
		w.counts = map[string]int{}
	}
	w.counts[op.Kind]++
	if !res.Unknown {
		w.ok = append(w.ok, time.Now())
	} else if !isRead(op.Kind) {
		ret = int64(1 << 62) // it may take effect at any time after the call
	}
	// Everything is recorded; pendingHistory drops what constrains nothing
	// (failed reads among them) before the check.
	if op.Kind == opStatus {
		for _, kind := range []string{opStageRead, opRevisionRead} {
			w.ops = append(w.ops, porcupine.Operation{ClientId: client, Input: adminOp{Kind: kind, Key: op.Key}, Call: call, Output: res, Return: ret})
		}
		return
	}
	w.ops = append(w.ops, porcupine.Operation{ClientId: client, Input: op, Call: call, Output: res, Return: ret})
}

// invoke makes one attempt, with no retry: a retry could turn an applied
// create into "already exists" and hide or fake a violation.
func (w *adminWorkload) invoke(addr string, op adminOp, rng *rand.Rand) adminResult {
	conn, err := w.pool.Get(addr)
	if err != nil {
		return adminResult{Unknown: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	admin := pb.NewAdminClient(conn)
	switch op.Kind {
	case opCreate:
		// A distinct server-id per call: an identical source.yaml sent twice
		// is accepted as "unchanged", which would blur the model.
		yaml := fmt.Sprintf("source-id: %s\nserver-id: %d\nfrom:\n  host: 127.0.0.1\n  port: 1\n  user: root\n", op.Key, w.nextID())
		_, err = admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "create", Configs: []string{yaml}})
		return outcome(err)
	case opRemove:
		_, err = admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "stop", SourceIds: []string{op.Key}})
		return outcome(err)
	case opShow:
		resp, err := admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "show", SourceIds: []string{op.Key}})
		if err != nil {
			return adminResult{Unknown: true} // a failed read changes nothing
		}
		return adminResult{OK: len(resp.Sources) == 1}
	case opPause:
		_, err = admin.PauseTask(ctx, &pb.TaskOpRequest{Name: op.Key})
		return outcome(err)
	case opResume:
		_, err = admin.ResumeTask(ctx, &pb.TaskOpRequest{Name: op.Key})
		return outcome(err)
	case opUpdate:
		resp, err := admin.UpdateTask(ctx, &pb.StartTaskRequest{TaskYaml: w.task.yaml(1 + rng.Intn(4))})
		res := outcome(err)
		if res.OK {
			res.Revision = resp.Revision
		}
		return res
	case opStatus:
		return w.status(ctx, admin, op.Key)
	case opTransfer:
		resp, err := admin.TransferSource(ctx, &pb.TransferSourceRequest{SourceId: op.Key, Node: op.Node})
		res := outcome(err)
		if res.OK {
			res.Node, res.Epoch = resp.Node, resp.Epoch
		}
		return res
	case opBound:
		resp, err := admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "show", SourceIds: []string{op.Key}})
		if err != nil || len(resp.Sources) != 1 {
			return adminResult{Unknown: true}
		}
		return adminResult{OK: true, Node: resp.Sources[0].Worker, Epoch: resp.Sources[0].Epoch}
	}
	panic("unknown admin operation " + op.Kind)
}

// status reads the task's revision and whether its subtasks are paused
// (all of them are: pause-task and resume-task act on every subtask). A
// subtask whose unit failed pauses itself alone (its error is shown, and
// resume-task clears it): its stage says nothing about the task's, so it
// is left out, and counted in errorPauses. A read where every subtask
// paused itself tells nothing and counts as unknown.
func (w *adminWorkload) status(ctx context.Context, admin pb.AdminClient, task string) adminResult {
	resp, err := admin.QueryStatus(ctx, &pb.QueryStatusRequest{Name: task})
	if err != nil || len(resp.Tasks) != 1 || len(resp.Tasks[0].Subtasks) == 0 {
		return adminResult{Unknown: true}
	}
	t := resp.Tasks[0]
	res := adminResult{OK: true, Revision: t.Revision}
	seen := false
	for _, st := range t.Subtasks {
		// query-status names desired stages as DM does: Running, Paused.
		if st.DesiredStage == "Paused" && st.LastError != nil {
			w.noteErrorPause(st.LastError.Code)
			continue
		}
		paused := st.DesiredStage == "Paused"
		if (st.DesiredStage != "Paused" && st.DesiredStage != "Running") || (seen && paused != res.Paused) {
			res.Mixed = true // cannot be: the stages are set together; the model rejects it
		}
		if !seen {
			res.Paused, seen = paused, true
		}
	}
	if !seen {
		return adminResult{Unknown: true, Revision: t.Revision}
	}
	return res
}

// noteErrorPause counts a stage read that saw a subtask paused by its own
// error, by error code.
func (w *adminWorkload) noteErrorPause(code string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.errorPauses == nil {
		w.errorPauses = map[string]int{}
	}
	w.errorPauses[code]++
}

// outcome maps a write's error: nil applied; a refusal (the request was
// planned or applied and rejected, which changes nothing) did not apply;
// anything else (unavailable, deadline, connection) is unknown.
func outcome(err error) adminResult {
	if err == nil {
		return adminResult{OK: true}
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.AlreadyExists, codes.NotFound, codes.FailedPrecondition, codes.InvalidArgument:
			return adminResult{OK: false}
		}
	}
	return adminResult{Unknown: true}
}

// maxGap is the longest time between two successful admin calls: the
// longest the cluster looked unavailable to its users.
func (w *adminWorkload) maxGap(end time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var max time.Duration
	prev := w.start
	for _, t := range append(sortedTimes(w.ok), end) {
		if d := t.Sub(prev); d > max {
			max = d
		}
		prev = t
	}
	return max
}
