package jepsen

import "github.com/anishathalye/porcupine"

// isRead says whether an operation kind only reads.
func isRead(kind string) bool {
	switch kind {
	case opShow, opStatus, opStageRead, opRevisionRead, opBound:
		return true
	}
	return false
}

// pendingHistory prepares a recorded admin history for adminModel:
//   - a read with an unknown outcome constrains nothing: dropped (the
//     usual practice with failed reads);
//   - an operation the model accepts in every state without a change
//     constrains nothing either: dropped. These are a refused pause,
//     resume or update (the server answered with an error that proves no
//     effect) and a transfer that was refused or whose outcome is unknown
//     (if it applied, it looks like a rebind by the scheduler, which the
//     model allows at any time);
//   - a write with an unknown outcome (create, remove, pause, resume,
//     update) becomes a pending effect registered at its call: the model
//     may apply it before any later operation, once, or never. Its return
//     is set to its call, which keeps the search small (see adminModel).
//
// A refused create or remove stays: "already exists" and "not found" are
// reads of the source.
func pendingHistory(ops []porcupine.Operation) []porcupine.Operation {
	out := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		in, res := op.Input.(adminOp), op.Output.(adminResult)
		switch {
		case res.Unknown && isRead(in.Kind):
			continue
		case in.Kind == opTransfer && !res.OK:
			continue
		case !res.OK && !res.Unknown && (in.Kind == opPause || in.Kind == opResume || in.Kind == opUpdate):
			continue
		case res.Unknown:
			op.Return = op.Call
		}
		out = append(out, op)
	}
	return out
}
