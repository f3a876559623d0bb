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

// adminOp is the input of one admin operation in the history.
type adminOp struct {
	Kind   string // create | remove | show
	Source string
}

// adminResult is its output. Unknown: the call failed in a way that does
// not say whether it took effect (timeout, connection lost).
type adminResult struct {
	OK      bool // create/remove applied; show: the source exists
	Unknown bool
}

// adminWorkload runs clients that create, remove and read a few sources
// through random nodes, each call tried once, and records the history.
type adminWorkload struct {
	c       *harness.Cluster
	clients int
	ids     []string
	timeout time.Duration
	start   time.Time
	pool    *rpc.ConnPool

	mu  sync.Mutex
	seq int64
	ops []porcupine.Operation
	ok  []time.Time // completion times of successful calls
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

func (w *adminWorkload) step(client int, rng *rand.Rand) {
	op := adminOp{Kind: []string{"create", "remove", "show", "show"}[rng.Intn(4)], Source: w.ids[rng.Intn(len(w.ids))]}
	node := w.c.Nodes[rng.Intn(len(w.c.Nodes))]
	call := w.now()
	res := w.invoke(node.Addr, op)
	ret := w.now()
	if res.Unknown && op.Kind == "show" {
		return // a failed read tells nothing
	}
	if res.Unknown {
		ret = int64(1 << 62) // it may take effect at any time after the call
	} else {
		w.mu.Lock()
		w.ok = append(w.ok, time.Now())
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.ops = append(w.ops, porcupine.Operation{ClientId: client, Input: op, Call: call, Output: res, Return: ret})
	w.mu.Unlock()
}

// invoke makes one attempt, with no retry: a retry could turn an applied
// create into "already exists" and hide or fake a violation.
func (w *adminWorkload) invoke(addr string, op adminOp) adminResult {
	conn, err := w.pool.Get(addr)
	if err != nil {
		return adminResult{Unknown: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	admin := pb.NewAdminClient(conn)
	switch op.Kind {
	case "create":
		// A distinct server-id per call: an identical source.yaml sent twice
		// is accepted as "unchanged", which would blur the model.
		yaml := fmt.Sprintf("source-id: %s\nserver-id: %d\nfrom:\n  host: 127.0.0.1\n  port: 1\n  user: root\n", op.Source, w.nextID())
		_, err = admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "create", Configs: []string{yaml}})
		return outcome(err, codes.AlreadyExists)
	case "remove":
		_, err = admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "stop", SourceIds: []string{op.Source}})
		return outcome(err, codes.NotFound)
	default:
		resp, err := admin.OperateSource(ctx, &pb.OperateSourceRequest{Op: "show", SourceIds: []string{op.Source}})
		if err != nil {
			return adminResult{Unknown: true} // a failed read changes nothing
		}
		return adminResult{OK: len(resp.Sources) == 1}
	}
}

// outcome maps a write's error: nil applied, the refusal code did not apply
// (a definite answer), anything else unknown.
func outcome(err error, refusal codes.Code) adminResult {
	if err == nil {
		return adminResult{OK: true}
	}
	if s, ok := status.FromError(err); ok && s.Code() == refusal {
		return adminResult{OK: false}
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
