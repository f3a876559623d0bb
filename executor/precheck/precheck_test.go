package precheck

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dmraft/dmraft/fsm/config"
	"github.com/dmraft/dmraft/test/mariadb"
)

func find(items []Item, prefix string) *Item {
	for i := range items {
		if strings.HasPrefix(items[i].Name, prefix) && items[i].State != Pass {
			return &items[i]
		}
	}
	return nil
}

func TestTaskPrecheck(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "nobinlog"})
	up, plain := srv[0], srv[1]
	up.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.k (id INT PRIMARY KEY)", "CREATE TABLE app.nokey (a INT)")
	src := func(s *mariadb.Server, pw string) *config.Source {
		return &config.Source{SourceID: "s1", From: config.DBConfig{Host: "127.0.0.1", Port: s.Port, User: mariadb.User, Password: pw}}
	}
	task := func(mode string, target *mariadb.Server, pw string) *config.Task {
		tk, err := config.ParseTask([]byte(fmt.Sprintf("name: t\ntask-mode: %s\ntarget-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}\nmysql-instances: [{source-id: s1}]\n",
			mode, target.Port, mariadb.User, pw)))
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	ctx := context.Background()
	key := config.DefaultKey

	items := Task(ctx, task("full", plain, mariadb.Password), map[string]*config.Source{"s1": src(up, mariadb.Password)}, key)
	if f := Failures(items); len(f) > 0 {
		t.Fatalf("a good full task fails: %+v", f)
	}
	if w := find(items, "source s1 tables without a key"); w == nil || w.State != Warn || !strings.Contains(w.Message, "app.nokey") {
		t.Errorf("no warning for app.nokey: %+v", items)
	}

	items = Task(ctx, task("full", plain, "wrong-target-pw"), map[string]*config.Source{"s1": src(up, "wrong-source-pw")}, key)
	for _, name := range []string{"target connection", "source s1 connection"} {
		it := find(items, name)
		if it == nil || it.State != Fail || it.Fix == "" {
			t.Errorf("%s with a wrong password: %+v", name, it)
		}
	}
	for _, it := range items {
		if strings.Contains(it.Message+it.Fix, "wrong-") {
			t.Errorf("a password leaked into %+v", it)
		}
	}

	// task-mode all from a server without a binlog.
	items = Task(ctx, task("all", up, mariadb.Password), map[string]*config.Source{"s1": src(plain, mariadb.Password)}, key)
	if it := find(items, "source s1 log_bin"); it == nil || it.State != Fail {
		t.Errorf("log_bin off not reported: %+v", items)
	}
	// task-mode dump never writes to the target: a wrong target password
	// does not matter, the node-local files are pointed out.
	items = Task(ctx, task("dump", plain, "wrong-target-pw"), map[string]*config.Source{"s1": src(up, mariadb.Password)}, key)
	if f := Failures(items); len(f) > 0 || find(items, "target connection") != nil {
		t.Errorf("task-mode dump checks the target: %+v", items)
	}
	if it := find(items, "task-mode"); it == nil || it.State != Warn || !strings.Contains(it.Message, "loaders.dir") {
		t.Errorf("task-mode dump does not say where the files go: %+v", items)
	}
	// task-mode load never reads the source.
	items = Task(ctx, task("load", plain, mariadb.Password), map[string]*config.Source{"s1": src(up, "wrong-source-pw")}, key)
	if f := Failures(items); len(f) > 0 || find(items, "source s1 connection") != nil {
		t.Errorf("task-mode load checks the source: %+v", items)
	}
}
