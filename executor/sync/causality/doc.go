// Package causality decides which worker applies a row change and what it
// must wait for. A change goes to the worker its route key hashes to
// (deterministic, so a replay after a crash sends every change to the same
// worker as before). Changes on different workers may commit in any
// order, so a change whose unique-key values are still in flight on
// another worker depends on that worker's commit: Place returns the
// dependencies, and the change's worker commits it only after them. DM
// routes such a change to the other worker or flushes every worker; a
// fixed route keeps the replay exact, and a dependency, unlike a flush,
// lets the reader and every other worker go on.
package causality
