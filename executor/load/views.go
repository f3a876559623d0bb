package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// ViewDDL is the CREATE OR REPLACE VIEW of one target view.
type ViewDDL struct {
	Source string // upstream schema.view, for messages
	Target string // target schema.view
	Schema string // target schema, created when missing
	SQL    string
}

// ErrViewFailed means a view could not be created on the target.
var ErrViewFailed = errors.New("create view")

// CreateViews creates views after the tables. A view may select from
// another view, so views that fail because a table or view is missing
// (1146) are retried after the others, until a pass creates none; the
// error then names each view and its reason.
func CreateViews(ctx context.Context, db *sql.DB, views []ViewDDL) error {
	todo := views
	for len(todo) > 0 {
		var left []ViewDDL
		var reasons []string
		for _, v := range todo {
			if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(v.Schema)); err != nil {
				return fmt.Errorf("create schema %s for view %s: %w", v.Schema, v.Target, err)
			}
			_, err := db.ExecContext(ctx, v.SQL)
			if err == nil {
				continue
			}
			var me *mysql.MySQLError
			if errors.As(err, &me) && (me.Number == 1146 || me.Number == 1356) {
				left = append(left, v)
				reasons = append(reasons, fmt.Sprintf("%s (from %s): %v", v.Target, v.Source, err))
				continue
			}
			return fmt.Errorf("%w %s (from %s): %w", ErrViewFailed, v.Target, v.Source, err)
		}
		if len(left) == len(todo) {
			return fmt.Errorf("%w: %s", ErrViewFailed, strings.Join(reasons, "; "))
		}
		todo = left
	}
	return nil
}

func quoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }
