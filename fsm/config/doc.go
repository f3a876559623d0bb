// Package config owns dmraft's DM-compatible configuration files: it parses,
// validates and normalizes source.yaml and task.yaml, converts them to the
// FSM records (pb.SourceConfig, pb.Task), and encrypts passwords like DM's
// `dmctl encrypt`. Unknown fields are errors that name the field and line.
//
// It is pure: no network, no clock, no randomness, and a password never
// appears in an error message or in any output except encrypted or masked.
package config
