package mariadb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Credentials present on every server.
const (
	RootUser     = "root"
	RootPassword = "dmraft"
	User         = "dmraft" // ALL PRIVILEGES on *.*, incl. REPLICATION SLAVE/CLIENT
	Password     = "dmraft"
)

// Host is the only address servers listen on.
const Host = "127.0.0.1"

// Options configures a server.
type Options struct {
	// Name labels the server in its directory name and in messages.
	Name string
	// Binlog makes an upstream: ROW binlog, FULL row image and metadata,
	// GTID strict mode, log_slave_updates. Without it the binlog is off.
	Binlog bool
	// ServerID is @@server_id; 0 picks the port number, which is unique
	// among the servers running on this machine.
	ServerID uint32
	// Port to listen on; 0 picks a free loopback port (and retries with
	// another one if the port gets taken before the server binds it).
	Port int
	// ExtraArgs are appended to the mariadbd command line and override the
	// defaults (e.g. "--gtid-domain-id=2", "--innodb-buffer-pool-size=256M").
	// They are not passed to mariadb-install-db.
	ExtraArgs []string
}

// commonArgs are shared by mariadb-install-db and mariadbd.
func (s *Server) commonArgs() []string {
	a := []string{
		"--no-defaults", // must be first
		"--datadir=" + s.DataDir,
		// Own tmpdir: at startup mariadbd deletes every #sql* file in its
		// tmpdir, which breaks other servers sharing /tmp.
		"--tmpdir=" + filepath.Join(s.Dir, "tmp"),
		"--innodb-buffer-pool-size=128M",
		"--innodb-log-file-size=64M",
		"--innodb-use-native-aio=0", // io_setup limits bite with many servers
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
	}
	if os.Geteuid() == 0 {
		a = append(a, "--user=root")
	}
	return a
}

// serverArgs is the full mariadbd command line.
func (s *Server) serverArgs(extra []string) []string {
	a := append(s.commonArgs(),
		"--port="+strconv.Itoa(s.Port),
		"--bind-address="+Host,
		"--socket="+s.Socket,
		"--pid-file="+filepath.Join(s.Dir, "mariadbd.pid"),
		"--log-error="+s.ErrorLog,
		"--skip-name-resolve",
		"--server-id="+strconv.FormatUint(uint64(s.ServerID), 10),
		"--relay-log=relay-bin", // not named after the host
		"--innodb-flush-log-at-trx-commit=2",
		"--innodb-log-buffer-size=16M",
		"--performance-schema=OFF",
		"--max-connections=500",
		"--max-allowed-packet=64M",
	)
	if s.Binlog {
		a = append(a,
			"--log-bin=mysql-bin",
			"--binlog-format=ROW",
			"--binlog-row-image=FULL",
			"--binlog-row-metadata=FULL",
			"--log-slave-updates",
			"--gtid-strict-mode=ON",
			"--sync-binlog=0",
		)
	} else {
		a = append(a, "--skip-log-bin")
	}
	return append(a, extra...)
}

// initSQL runs once, at mariadb-install-db time: passwords for root, the
// dmraft user, and no host-name accounts (useless with skip-name-resolve).
func initSQL() string {
	loop := []string{"'localhost'", "'127.0.0.1'", "'::1'"}
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM mysql.global_priv WHERE Host NOT IN (%s);\n", strings.Join(loop, ","))
	fmt.Fprintf(&b, "DELETE FROM mysql.proxies_priv WHERE Host NOT IN (%s);\n", strings.Join(loop, ","))
	b.WriteString("FLUSH PRIVILEGES;\n")
	for _, h := range loop {
		fmt.Fprintf(&b, "ALTER USER '%s'@%s IDENTIFIED BY '%s';\n", RootUser, h, RootPassword)
	}
	for _, h := range []string{"'%'", "'127.0.0.1'", "'localhost'"} {
		fmt.Fprintf(&b, "CREATE USER '%s'@%s IDENTIFIED BY '%s';\n", User, h, Password)
		fmt.Fprintf(&b, "GRANT ALL PRIVILEGES ON *.* TO '%s'@%s WITH GRANT OPTION;\n", User, h)
		fmt.Fprintf(&b, "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '%s'@%s;\n", User, h)
	}
	return b.String()
}

// safeName keeps a name usable in a directory name.
func safeName(n string) string {
	var b strings.Builder
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 24 {
			break
		}
	}
	if b.Len() == 0 {
		return "server"
	}
	return b.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errorLines returns the lines of s that mention an error, or its tail if
// none does: mariadb-install-db buries the cause under a long epilogue.
func errorLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "error") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return tail(s, n)
	}
	return tail(strings.Join(keep, "\n"), n)
}
