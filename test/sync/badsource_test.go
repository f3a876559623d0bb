package syncsuite

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestBadSourceMidRun: what goes wrong on the source while a task runs
// pauses the subtask with an error that names the cause and the fix, and
// once fixed, resume-task converges with nothing lost:
//   - the replication user's password changes (the binlog connection is
//     cut and cannot log in again);
//   - binlog_row_image becomes MINIMAL;
//   - another replica of the source uses the task's server-id.
func TestBadSourceMidRun(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	up, down := srv[0], srv[1]
	up.Exec(t, "CREATE USER 'repl'@'%' IDENTIFIED BY 'pw1'", "GRANT ALL ON *.* TO 'repl'@'%'")
	up.Exec(t, seedSQL(200)...)
	const serverID = 4242
	c := harness.NewCluster(t, 1, harness.Options{NodeArgs: harness.FastTimeouts})
	src := fmt.Sprintf("source-id: src1\nflavor: mariadb\nserver-id: %d\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: repl\n  password: pw1\n", serverID, up.Port)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s1.yaml", src))
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("bs1", "all", down, 2, 16, "")))
	waitSyncing(t, c, "bs1", 60*time.Second)
	n := 0
	write := func() {
		n++
		up.Exec(t, fmt.Sprintf("INSERT INTO app.items VALUES (%d, 'bad-source-%d', %d, NULL)", 99997000+n, n, n))
	}

	t.Run("PasswordChanged", func(t *testing.T) {
		up.Exec(t, "ALTER USER 'repl'@'%' IDENTIFIED BY 'pw2'")
		killUser(t, up, "repl")
		write()
		_, e := waitErr(t, c, "bs1", 60*time.Second)
		t.Logf("subtask error: %+v", e)
		if e.ErrCode != "SourceAccessDenied" || !strings.Contains(e.Message, "repl") ||
			!strings.Contains(e.Workaround, "operate-source create") || !strings.Contains(e.Workaround, "resume-task bs1") {
			t.Errorf("the error does not say the source refused user repl and how to fix it: %+v", e)
		}
		up.Exec(t, "ALTER USER 'repl'@'%' IDENTIFIED BY 'pw1'")
		c.MustDmctl("resume-task", "bs1")
		converge(t, c, "bs1", up, down, "app", 60*time.Second)
	})

	t.Run("RowImageMinimal", func(t *testing.T) {
		up.Exec(t, "SET SESSION binlog_row_image = MINIMAL", "UPDATE app.items SET qty = qty + 1 WHERE id = 7")
		_, e := waitErr(t, c, "bs1", 60*time.Second)
		t.Logf("subtask error: %+v", e)
		if !strings.Contains(e.Message+e.Workaround, "binlog_row_image") {
			t.Errorf("the error does not name binlog_row_image: %+v", e)
		}
		// A MINIMAL image cannot be replayed; the way out is a new full
		// copy. The status says so and nothing after it was applied.
		if !strings.Contains(e.Workaround, "binlog_row_image=FULL") || !strings.Contains(e.Workaround, "full copy") {
			t.Errorf("the error does not name the fix: %+v", e)
		}
		c.MustDmctl("stop-task", "bs1")
	})

	t.Run("ServerIDClash", func(t *testing.T) {
		stop := otherReplica(t, up, serverID)
		defer stop()
		down.Exec(t, "DROP DATABASE app", "DROP DATABASE dm_meta")
		c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task2.yaml", taskYAML("bs2", "all", down, 2, 16, "")))
		_, e := waitErr(t, c, "bs2", 90*time.Second)
		t.Logf("subtask error: %+v", e)
		if e.ErrCode != "ServerIDClash" || !strings.Contains(e.Message, fmt.Sprint(serverID)) || !strings.Contains(e.Workaround, "server-id") {
			t.Errorf("the error does not name the server-id clash and its fix: %+v", e)
		}
		stop()
		c.MustDmctl("resume-task", "bs2")
		write()
		converge(t, c, "bs2", up, down, "app", 90*time.Second)
	})
}

// killUser ends every connection of user on s.
func killUser(t *testing.T, s *mariadb.Server, user string) {
	t.Helper()
	rows, err := s.DB(t).Query("SELECT id FROM information_schema.processlist WHERE user = ?", user)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		_ = s.ExecSQL(context.Background(), fmt.Sprintf("KILL %d", id))
	}
}

// otherReplica registers a binlog reader with serverID as another host
// would, and reads until stop is called (or 3 minutes pass).
func otherReplica(t *testing.T, s *mariadb.Server, serverID uint32) (stop func()) {
	t.Helper()
	sy := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: serverID, Flavor: gmysql.MariaDBFlavor, Host: "127.0.0.1", Port: uint16(s.Port),
		User: mariadb.User, Password: mariadb.Password, Localhost: "other-replica",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	st, err := sy.StartSync(gmysql.Position{Name: "", Pos: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if _, err := st.GetEvent(ctx); err != nil {
				return
			}
		}
	}()
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		sy.Close()
		<-done
	}
}
