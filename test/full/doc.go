// Package full holds the integration tests of the full copy (dump + load)
// with real dmnode processes and real MariaDB servers, and the dataset they
// share with the executor's unit tests: a table of every column type with
// edge values, a table without a key, a routed table and a filtered-out
// table, plus a bulk generator.
package full
