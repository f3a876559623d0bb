package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

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

// AddDeferredIndexes adds the recorded secondary indexes that the target
// tables lack, then forgets them. It is idempotent: an index that exists
// already is skipped.
func (s *Store) AddDeferredIndexes(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, "SELECT target_schema, target_table, index_name, definition FROM "+s.Meta.Table(target.IndexTable)+
		" WHERE task = ? AND source = ? ORDER BY target_schema, target_table, index_name", s.Fence.Task, s.Fence.Source)
	if err != nil {
		return fmt.Errorf("read deferred indexes: %w", err)
	}
	type index struct{ schema, table, name, def string }
	var todo []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.schema, &ix.table, &ix.name, &ix.def); err != nil {
			rows.Close()
			return fmt.Errorf("read deferred indexes: %w", err)
		}
		todo = append(todo, ix)
	}
	rows.Close()
	// One ALTER per table adds all its indexes in one pass.
	for i := 0; i < len(todo); {
		j := i
		var adds []string
		for ; j < len(todo) && todo[j].schema == todo[i].schema && todo[j].table == todo[i].table; j++ {
			var n int
			if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ?",
				todo[j].schema, todo[j].table, todo[j].name).Scan(&n); err != nil {
				return fmt.Errorf("look up index %s: %w", todo[j].name, err)
			}
			if n == 0 {
				adds = append(adds, "ADD "+todo[j].def)
			}
		}
		tbl := target.QuoteTable(todo[i].schema, todo[i].table)
		if len(adds) > 0 {
			_, err := s.DB.ExecContext(ctx, "ALTER TABLE "+tbl+" "+strings.Join(adds, ", "))
			var me *mysql.MySQLError
			if err != nil && !(errors.As(err, &me) && me.Number == 1061) { // 1061: duplicate key name
				return fmt.Errorf("add the deferred indexes of %s: %w", tbl, err)
			}
		}
		if _, err := s.DB.ExecContext(ctx, "DELETE FROM "+s.Meta.Table(target.IndexTable)+" WHERE task = ? AND source = ? AND target_schema = ? AND target_table = ?",
			s.Fence.Task, s.Fence.Source, todo[i].schema, todo[i].table); err != nil {
			return fmt.Errorf("forget deferred indexes of %s: %w", tbl, err)
		}
		i = j
	}
	return nil
}
