package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/target"
)

// secondaryKey matches a plain, FULLTEXT or SPATIAL index line of SHOW
// CREATE TABLE (not PRIMARY or UNIQUE: those decide duplicates).
var secondaryKey = regexp.MustCompile("^\\s*(?:FULLTEXT |SPATIAL )?KEY (`(?:[^`]|``)+`)")

// StripSecondaryKeys returns createSQL without its secondary indexes and
// the index definitions removed, by name. Tables with foreign keys keep
// their indexes (a foreign key needs one).
func StripSecondaryKeys(createSQL string) (string, map[string]string) {
	if strings.Contains(createSQL, "FOREIGN KEY") {
		return createSQL, nil
	}
	lines := strings.Split(createSQL, "\n")
	var kept []string
	removed := map[string]string{}
	for _, l := range lines {
		if m := secondaryKey.FindStringSubmatch(l); m != nil {
			name := strings.ReplaceAll(strings.Trim(m[1], "`"), "``", "`")
			removed[name] = strings.TrimSuffix(strings.TrimSpace(l), ",")
			continue
		}
		kept = append(kept, l)
	}
	if len(removed) == 0 {
		return createSQL, nil
	}
	// The line before ")" must not end with a comma any more.
	for i := 1; i < len(kept); i++ {
		if strings.HasPrefix(kept[i], ")") {
			kept[i-1] = strings.TrimSuffix(kept[i-1], ",")
		}
	}
	return strings.Join(kept, "\n"), removed
}

// tableExists reports whether the target table exists.
func tableExists(ctx context.Context, db *sql.DB, schema, table string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&n)
	return n > 0, err
}

// CreateTableDeferred is CreateTable that, for a table it creates, leaves
// the secondary indexes out and records them in the meta schema first, so
// that AddDeferredIndexes adds them after the load (also after a failover).
func (s *Store) CreateTableDeferred(ctx context.Context, t *dump.Table, createSQL string) error {
	exists, err := tableExists(ctx, s.DB, t.TargetSchema, t.TargetName)
	if err != nil {
		return fmt.Errorf("look up target table %s: %w", t.TargetID(), err)
	}
	if !exists {
		if stripped, removed := StripSecondaryKeys(createSQL); len(removed) > 0 {
			err := s.inTx(ctx, func(tx *sql.Tx) error {
				for name, def := range removed {
					if _, err := tx.ExecContext(ctx, "REPLACE INTO "+s.Meta.Table(target.IndexTable)+
						" (task, source, target_schema, target_table, index_name, definition) VALUES (?, ?, ?, ?, ?, ?)",
						s.Fence.Task, s.Fence.Source, t.TargetSchema, t.TargetName, name, def); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("record deferred indexes of %s: %w", t.TargetID(), err)
			}
			if err := CreateTable(ctx, s.DB, t, stripped); err == nil {
				return nil
			}
			// e.g. an AUTO_INCREMENT column indexed only by a secondary
			// key: create the table as it is.
		}
	}
	return CreateTable(ctx, s.DB, t, createSQL)
}

// IndexBuilders is how many tables get their deferred indexes at once:
// each ALTER TABLE sorts on one core, so on a small machine a few in
// parallel shorten the tail of the load.
const IndexBuilders = 4

// AddDeferredIndexes adds the recorded secondary indexes that the target
// tables lack, then forgets them, up to IndexBuilders tables at a time. It
// is idempotent: an index that exists already is skipped.
func (s *Store) AddDeferredIndexes(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, "SELECT target_schema, target_table, index_name, definition FROM "+s.Meta.Table(target.IndexTable)+
		" WHERE task = ? AND source = ? ORDER BY target_schema, target_table, index_name", s.Fence.Task, s.Fence.Source)
	if err != nil {
		return fmt.Errorf("read deferred indexes: %w", err)
	}
	var todo []deferredIndex
	for rows.Next() {
		var ix deferredIndex
		if err := rows.Scan(&ix.schema, &ix.table, &ix.name, &ix.def); err != nil {
			rows.Close()
			return fmt.Errorf("read deferred indexes: %w", err)
		}
		todo = append(todo, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read deferred indexes: %w", err)
	}
	var tables [][]deferredIndex
	for i := 0; i < len(todo); {
		j := i
		for j < len(todo) && todo[j].schema == todo[i].schema && todo[j].table == todo[i].table {
			j++
		}
		tables = append(tables, todo[i:j])
		i = j
	}
	next := make(chan []deferredIndex)
	errs := make(chan error, len(tables))
	var wg sync.WaitGroup
	for range min(IndexBuilders, len(tables)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				errs <- s.addTableIndexes(ctx, t)
			}
		}()
	}
	for _, t := range tables {
		next <- t
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

type deferredIndex struct{ schema, table, name, def string }

// addTableIndexes adds one table's missing indexes in one ALTER (one pass
// over the table), then forgets them.
func (s *Store) addTableIndexes(ctx context.Context, ixs []deferredIndex) error {
	var adds []string
	for _, ix := range ixs {
		var n int
		if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ?",
			ix.schema, ix.table, ix.name).Scan(&n); err != nil {
			return fmt.Errorf("look up index %s: %w", ix.name, err)
		}
		if n == 0 {
			adds = append(adds, "ADD "+ix.def)
		}
	}
	tbl := target.QuoteTable(ixs[0].schema, ixs[0].table)
	if len(adds) > 0 {
		_, err := s.DB.ExecContext(ctx, "ALTER TABLE "+tbl+" "+strings.Join(adds, ", "))
		var me *mysql.MySQLError
		if err != nil && !(errors.As(err, &me) && me.Number == 1061) { // 1061: duplicate key name
			return fmt.Errorf("add the deferred indexes of %s: %w", tbl, err)
		}
	}
	if _, err := s.DB.ExecContext(ctx, "DELETE FROM "+s.Meta.Table(target.IndexTable)+" WHERE task = ? AND source = ? AND target_schema = ? AND target_table = ?",
		s.Fence.Task, s.Fence.Source, ixs[0].schema, ixs[0].table); err != nil {
		return fmt.Errorf("forget deferred indexes of %s: %w", tbl, err)
	}
	return nil
}
