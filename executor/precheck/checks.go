package precheck

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/dmraft/dmraft/executor/dump"
)

// Item states.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
)

// Item is one check result.
type Item struct {
	Name    string
	State   string
	Message string
	Fix     string
}

// Failures returns the failed items.
func Failures(items []Item) []Item {
	var out []Item
	for _, it := range items {
		if it.State == Fail {
			out = append(out, it)
		}
	}
	return out
}

// grants returns the upper-cased SHOW GRANTS lines of the current user.
func grants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, strings.ToUpper(g))
	}
	return out, rows.Err()
}

// hasGlobal reports whether a grant on *.* includes priv (or ALL).
func hasGlobal(gs []string, priv string) bool {
	for _, g := range gs {
		on := strings.Index(g, " ON *.*")
		if !strings.HasPrefix(g, "GRANT ") || on < 0 {
			continue
		}
		list := g[len("GRANT "):on]
		if strings.Contains(list, "ALL PRIVILEGES") {
			return true
		}
		for _, p := range strings.Split(list, ",") {
			if strings.TrimSpace(p) == priv {
				return true
			}
		}
	}
	return false
}

// SourcePrivileges checks what the dump (and, with sync, replication) needs.
func SourcePrivileges(ctx context.Context, db *sql.DB, name string, needSync bool) []Item {
	gs, err := grants(ctx, db)
	if err != nil {
		return []Item{{Name: name + " privileges", State: Warn, Message: "cannot read the grants: " + err.Error(), Fix: "grant the user SHOW GRANTS access or check privileges by hand"}}
	}
	var items []Item
	if !hasGlobal(gs, "SELECT") {
		items = append(items, Item{name + " privileges", Fail, "the user lacks SELECT on *.*", "GRANT SELECT ON *.* TO the source user"})
	}
	if !hasGlobal(gs, "RELOAD") {
		items = append(items, Item{name + " privileges", Warn, "the user lacks RELOAD: the snapshot cannot use FLUSH TABLES WITH READ LOCK and is read on one connection (MariaDB) or fails (MySQL)",
			"GRANT RELOAD ON *.* TO the source user for parallel dumps"})
	}
	if needSync && !(hasGlobal(gs, "REPLICATION SLAVE") && (hasGlobal(gs, "REPLICATION CLIENT") || hasGlobal(gs, "BINLOG MONITOR"))) {
		items = append(items, Item{name + " privileges", Fail, "the user lacks REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR on MariaDB)",
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the source user"})
	}
	if len(items) == 0 {
		items = append(items, Item{Name: name + " privileges", State: Pass})
	}
	return items
}

// Binlog checks log_bin, binlog_format=ROW and binlog_row_image=FULL, which
// incremental replication needs.
func Binlog(ctx context.Context, db *sql.DB, name string) []Item {
	want := []struct{ v, val, fix string }{
		{"log_bin", "ON", "start the server with --log-bin"},
		{"binlog_format", "ROW", "SET GLOBAL binlog_format = ROW (and in the config file)"},
		{"binlog_row_image", "FULL", "SET GLOBAL binlog_row_image = FULL (and in the config file)"},
	}
	var items []Item
	for _, w := range want {
		var got sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+w.v).Scan(&got); err != nil {
			items = append(items, Item{name + " " + w.v, Fail, "cannot read @@" + w.v + ": " + err.Error(), w.fix})
			continue
		}
		v := strings.ToUpper(got.String)
		if v == "1" {
			v = "ON"
		}
		if v != w.val {
			items = append(items, Item{name + " " + w.v, Fail, fmt.Sprintf("%s is %q, the task-mode needs %s", w.v, got.String, w.val), w.fix})
			continue
		}
		items = append(items, Item{Name: name + " " + w.v, State: Pass})
	}
	return items
}

// TablesWithoutKey warns about selected tables without a primary or unique
// NOT NULL key: they load as one chunk, and replication cannot tell
// identical rows apart.
func TablesWithoutKey(ctx context.Context, db *sql.DB, name string, sel *dump.Selector) []Item {
	tables, err := dump.ListTables(ctx, db, sel)
	if err != nil {
		return []Item{{name + " tables", Fail, err.Error(), "check that the user can read information_schema"}}
	}
	var nokey []string
	for _, t := range tables {
		if len(t.Key) == 0 {
			nokey = append(nokey, t.ID())
		}
	}
	if len(tables) == 0 {
		return []Item{{name + " tables", Warn, "the block-allow-list selects no table", "check block-allow-list in task.yaml"}}
	}
	if len(nokey) == 0 {
		return []Item{{Name: name + " tables", State: Pass, Message: fmt.Sprintf("%d tables selected", len(tables))}}
	}
	sort.Strings(nokey)
	more := ""
	if len(nokey) > 10 {
		more, nokey = fmt.Sprintf(" and %d more", len(nokey)-10), nokey[:10]
	}
	return []Item{{name + " tables without a key", Warn,
		fmt.Sprintf("%s%s have no primary or unique NOT NULL key: each loads in one transaction", strings.Join(nokey, ", "), more),
		"add a primary key for parallel, resumable chunks"}}
}

// Target checks that the target accepts writes: not read-only, and the
// privileges to create schemas and tables and to insert.
func Target(ctx context.Context, db *sql.DB) []Item {
	var ro sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro); err == nil && (ro.String == "1" || strings.EqualFold(ro.String, "ON")) {
		return []Item{{"target writable", Fail, "the target is read_only", "SET GLOBAL read_only = OFF on the target, or point target-database at the primary"}}
	}
	gs, err := grants(ctx, db)
	if err != nil {
		return []Item{{"target privileges", Warn, "cannot read the grants: " + err.Error(), "check privileges by hand"}}
	}
	var missing []string
	for _, p := range []string{"CREATE", "INSERT", "UPDATE", "DELETE", "SELECT", "ALTER", "DROP", "INDEX"} {
		if !hasGlobal(gs, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return []Item{{"target privileges", Warn, "no global " + strings.Join(missing, ", ") + " (grants on single schemas may still be enough)",
			"GRANT " + strings.Join(missing, ", ") + " ON *.* TO the target user"}}
	}
	return []Item{{Name: "target privileges", State: Pass}}
}
