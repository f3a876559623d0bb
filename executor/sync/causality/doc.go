// Package causality decides which worker applies a row change and when a
// change must wait. A change goes to the worker its route key hashes to
// (deterministic, so a replay after a crash sends every change to the same
// worker as before). Changes on different workers may run in any order, so
// a change whose unique-key values are still in flight on another worker
// is a conflict: the caller drains every worker, calls Reset, and adds it
// again. This is DM's causality, with a fixed routing function.
package causality
