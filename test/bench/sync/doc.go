// Command sync is `make bench-sync`: it builds one binlog backlog on a
// MariaDB source with sysbench (oltp_insert, then oltp_write_only) and
// replays exactly that backlog, in the same run, into fresh target servers
// loaded with the source's data as of the backlog's start position:
//
//   - a MariaDB replica (CHANGE MASTER TO the start position), single-threaded;
//   - the same with slave_parallel_threads (4) and slave_parallel_mode=optimistic;
//   - dmraft (a 3-node cluster, task-mode incremental from meta binlog-name/pos),
//     with the default syncer batch and with batch 1.
//
// Each replay is timed until the target has applied the end position and
// checked against the source (CHECKSUM TABLE). The row changes are counted
// in the binlog itself (go-mysql's parser over the source's files). Then,
// with the dmraft task still running, the source is loaded by sysbench at
// about half of dmraft's catch-up rate while a heartbeat row is written
// every 100 ms; the lag is the target's NOW(6) minus the heartbeat value it
// holds, sampled every 50 ms.
package main
