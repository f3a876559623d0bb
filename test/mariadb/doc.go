// Package mariadb starts isolated, throw-away MariaDB servers for
// integration tests, benchmarks and the demo.
//
// Every server gets its own temporary directory (data dir, socket, pid file,
// error log), its own free port on 127.0.0.1 and a command line that starts
// with --no-defaults, so nothing is read from /etc/mysql and nothing touches
// the system service. Servers only ever listen on the loopback address.
//
// Two users exist on every server:
//
//	root@localhost/127.0.0.1/::1  password RootPassword   (used by DSN)
//	dmraft@%/127.0.0.1/localhost  password Password       (ALL PRIVILEGES, incl. REPLICATION SLAVE/CLIENT)
//
// Upstream servers (Options.Binlog) write a ROW-format binlog with full row
// image and full row metadata, GTIDs in strict mode and log_slave_updates.
// Target servers run without a binlog. All servers are tuned to be light
// (128M buffer pool, relaxed durability, no performance_schema), so that a
// 2-core machine can run several at once; a start takes 1-2 s.
//
// In tests:
//
//	up := mariadb.Start(t, mariadb.Options{Binlog: true})
//	down := mariadb.Start(t, mariadb.Options{})
//	up.Exec(t, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)")
//	n, sum := up.Checksum(t, "d", "t")
//
// Start registers a cleanup that kills the server and removes its directory;
// if the test failed the directory is kept and its path and the tail of the
// error log are logged. StartMany starts several servers concurrently.
//
// Programs (benchmarks, `make demo`) use StartServer and Close instead.
//
// MariaDB itself comes from Debian's mariadb-server package. EnsureInstalled
// (called by StartServer) installs it with apt-get when mariadbd is missing
// and the process is root, serialised by a lock file under /tmp; otherwise it
// fails with a message pointing at scripts/ensure-mariadb.sh. It never starts
// the system service.
package mariadb
