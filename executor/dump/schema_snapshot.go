package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// schemaAttempts bounds how often OpenSnapshotTables starts over when DDL
// upstream changes the selected tables while the snapshot is opened.
const schemaAttempts = 5

// pinBatch is how many tables one pinning statement opens.
const pinBatch = 200

// TestHookTablesListed, when set (tests only), runs after the selected
// tables were listed and before the snapshot is opened: the window where
// DDL upstream used to make the copied definition and rows disagree.
var TestHookTablesListed func()

// OpenSnapshotTables opens n connections in one consistent snapshot (as
// OpenSnapshot) and returns the tables sel selects as they are in that
// snapshot: columns, chunking key and CREATE TABLE (Table.CreateSQL).
//
// information_schema and SHOW CREATE TABLE are not versioned: they show
// the current definition, not the snapshot's. So every snapshot
// connection opens every listed table while DDL cannot run (under FLUSH
// TABLES WITH READ LOCK, or, without it, right after its transaction
// starts); the metadata locks they keep until the snapshot closes make
// every DDL on those tables wait for the end of the copy, so the
// definitions read after that are the snapshot's, and the data read later
// in the snapshot (and the binlog after its position) match them. All the
// connections hold them: a connection that opened a table only later
// would queue behind a waiting ALTER, which waits for the snapshot to
// close, which waits for that connection (the copy would hang). The
// listing is read again after pinning: a table created, dropped or renamed
// in between (or, without the global lock, any definition that changed)
// starts the attempt over.
func OpenSnapshotTables(ctx context.Context, db *sql.DB, n int, flavor string, sel *Selector) (*Snapshot, []*Table, error) {
	if flavor == "" {
		flavor = DetectFlavor(ctx, db)
	}
	var why string
	for range schemaAttempts {
		before, err := ReadTables(ctx, db, sel)
		if err != nil {
			return nil, nil, err
		}
		if TestHookTablesListed != nil {
			TestHookTablesListed()
		}
		snap, err := openSnapshot(ctx, db, n, flavor, func(c *sql.Conn) error { return pinTables(ctx, c, before) })
		var gone *tableGoneError
		if errors.As(err, &gone) {
			why = gone.Error()
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		after, err := ReadTables(ctx, db, sel)
		if err != nil {
			snap.Close()
			return nil, nil, err
		}
		if why = schemaChange(before, after, !snap.Locked); why == "" {
			return snap, after, nil
		}
		snap.Close()
	}
	return nil, nil, fmt.Errorf("the source's tables kept changing while the snapshot was opened (%d attempts; last: %s): run the task again once the DDL is done", schemaAttempts, why)
}

// ReadTables is ListTables with each table's CREATE TABLE (CreateSQL), as
// they are now: use OpenSnapshotTables for the definitions of a snapshot.
func ReadTables(ctx context.Context, db Querier, sel *Selector) ([]*Table, error) {
	tables, err := ListTables(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if t.CreateSQL, err = RawCreateTable(ctx, db, t); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

// tableGoneError is a listed table that no longer exists when pinned.
type tableGoneError struct{ err error }

func (e *tableGoneError) Error() string {
	return "a listed table is gone when the snapshot opened it: " + e.err.Error()
}

// pinTables opens every table on c (inside its snapshot transaction): c
// then holds their shared metadata locks until the transaction ends.
func pinTables(ctx context.Context, c *sql.Conn, tables []*Table) error {
	for start := 0; start < len(tables); start += pinBatch {
		parts := make([]string, 0, pinBatch)
		for _, t := range tables[start:min(start+pinBatch, len(tables))] {
			parts = append(parts, "(SELECT 1 FROM "+quoteTable(t.Schema, t.Name)+" LIMIT 0)")
		}
		if _, err := c.ExecContext(ctx, strings.Join(parts, " UNION ALL ")); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1146 { // no such table
				return &tableGoneError{err}
			}
			return fmt.Errorf("snapshot: open the selected tables: %w", err)
		}
	}
	return nil
}

// autoIncrement is the table option that moves with every insert.
var autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

// schemaChange says how after differs from before ("" when it does not):
// the set of tables, and with definitions also their definitions.
func schemaChange(before, after []*Table, definitions bool) string {
	old := map[string]*Table{}
	for _, t := range before {
		old[t.ID()] = t
	}
	for _, t := range after {
		o := old[t.ID()]
		if o == nil {
			return "table " + t.ID() + " appeared"
		}
		delete(old, t.ID())
		if definitions && autoIncrement.ReplaceAllString(o.CreateSQL, "") != autoIncrement.ReplaceAllString(t.CreateSQL, "") {
			return "table " + t.ID() + " was altered"
		}
	}
	for id := range old {
		return "table " + id + " disappeared"
	}
	return ""
}
