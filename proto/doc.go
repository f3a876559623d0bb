// Package pb holds dmraft's protobuf messages and gRPC services, generated
// from fsm.proto (the replicated state's records and the append-only
// command envelope) and admin.proto (the Admin service dmctl calls and the
// Node service nodes call on each other). `make proto` regenerates the Go
// code, which is committed. Command types are only ever added at the end.
package pb
