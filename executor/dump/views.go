package dump

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions of the parser
)

// View is one selected upstream view and where it goes.
type View struct {
	Schema, Name             string
	TargetSchema, TargetName string
}

// ID is schema.view.
func (v *View) ID() string { return v.Schema + "." + v.Name }

// TargetID is the routed schema.view.
func (v *View) TargetID() string { return v.TargetSchema + "." + v.TargetName }

// ListViews returns the views that sel allows (block-allow-list rules
// apply to views as to tables), routed, sorted by name.
func ListViews(ctx context.Context, db Querier, sel *Selector) ([]*View, error) {
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'VIEW'")
	if err != nil {
		return nil, fmt.Errorf("list upstream views: %w", err)
	}
	defer rows.Close()
	var views []*View
	for rows.Next() {
		v := &View{}
		if err := rows.Scan(&v.Schema, &v.Name); err != nil {
			return nil, fmt.Errorf("list upstream views: %w", err)
		}
		if sel.TableAllowed(v.Schema, v.Name) {
			v.TargetSchema, v.TargetName = sel.Route(v.Schema, v.Name)
			views = append(views, v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list upstream views: %w", err)
	}
	sort.Slice(views, func(i, j int) bool { return views[i].ID() < views[j].ID() })
	return views, nil
}

// RawCreateView returns SHOW CREATE VIEW of v as the source prints it.
func RawCreateView(ctx context.Context, q Querier, v *View) (string, error) {
	rows, err := q.QueryContext(ctx, "SHOW CREATE VIEW "+quoteTable(v.Schema, v.Name))
	if err != nil {
		return "", fmt.Errorf("show create view %s: %w", v.ID(), err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() || len(cols) < 2 {
		return "", fmt.Errorf("show create view %s: no result (dropped during the dump?) %w", v.ID(), rows.Err())
	}
	vals := make([][]byte, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", fmt.Errorf("show create view %s: %w", v.ID(), err)
	}
	return string(vals[1]), nil
}

// viewHead matches the head of SHOW CREATE VIEW up to AS: algorithm,
// definer, SQL SECURITY, the name and an optional column list.
var viewHead = regexp.MustCompile("(?is)^\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?(ALGORITHM\\s*=\\s*\\w+\\s+)?" +
	"(?:DEFINER\\s*=\\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\\s@]+)(?:\\s*@\\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\\s]+))?\\s+)?" +
	"(SQL\\s+SECURITY\\s+\\w+\\s+)?VIEW\\s+((?:`(?:[^`]|``)*`\\s*\\.\\s*)?`(?:[^`]|``)*`|[\\w$]+(?:\\.[\\w$]+)?)(\\s*\\([^)]*\\))?\\s+AS\\s")

// StripDefiner returns a CREATE VIEW without its DEFINER clause, named
// `name` (unqualified), as written into a dump file.
func StripDefiner(createView, name string) (string, error) {
	return rewriteViewHead(createView, quoteIdent(name), false)
}

func rewriteViewHead(createView, quotedName string, orReplace bool) (string, error) {
	m := viewHead.FindStringSubmatchIndex(createView)
	if m == nil {
		return "", fmt.Errorf("unexpected CREATE VIEW statement %.60q", createView)
	}
	part := func(i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return createView[m[2*i]:m[2*i+1]]
	}
	head := "CREATE "
	if orReplace {
		head += "OR REPLACE "
	}
	return head + part(1) + part(2) + "VIEW " + quotedName + part(4) + " AS " + createView[m[1]:], nil
}

// CreateViewSQL turns the source's CREATE VIEW of view (schema is its
// upstream schema) into a CREATE OR REPLACE VIEW of its routed target name
// without a DEFINER (the target user becomes the definer, so no account
// of the source is needed on the target). When routes rename a table the
// view selects from, or a table name has no schema, the statement is
// parsed and those names are routed and qualified; otherwise the source's
// text is kept.
func CreateViewSQL(createView string, v *View, route func(schema, table string) (string, string)) (string, error) {
	plain, err := rewriteViewHead(createView, quoteTable(v.TargetSchema, v.TargetName), true)
	if err != nil {
		return "", fmt.Errorf("view %s: %w", v.ID(), err)
	}
	stmts, _, err := parser.New().ParseSQL(createView)
	if err != nil || len(stmts) != 1 {
		return plain, nil // not parseable here: keep the body as written
	}
	cv, ok := stmts[0].(*ast.CreateViewStmt)
	if !ok {
		return "", fmt.Errorf("view %s: SHOW CREATE VIEW returned %T", v.ID(), stmts[0])
	}
	r := &viewRouter{schema: v.Schema, route: route}
	cv.Select.Accept(r)
	if !r.changed {
		return plain, nil
	}
	var b strings.Builder
	flags := format.RestoreStringSingleQuotes | format.RestoreKeyWordUppercase | format.RestoreNameBackQuotes |
		format.RestoreSpacesAroundBinaryOperation | format.RestoreStringWithoutDefaultCharset
	if err := cv.Select.Restore(format.NewRestoreCtx(flags, &b)); err != nil {
		return "", fmt.Errorf("view %s: restore the routed SELECT: %w", v.ID(), err)
	}
	m := viewHead.FindStringIndex(plain)
	return plain[:m[1]] + b.String(), nil
}

// viewRouter routes the table names a view selects from.
type viewRouter struct {
	schema  string
	route   func(schema, table string) (string, string)
	ctes    map[string]bool
	changed bool
}

func (r *viewRouter) Enter(n ast.Node) (ast.Node, bool) {
	switch t := n.(type) {
	case *ast.WithClause:
		if r.ctes == nil {
			r.ctes = map[string]bool{}
		}
		for _, c := range t.CTEs {
			r.ctes[c.Name.L] = true
		}
	case *ast.TableName:
		if t.Schema.O == "" && r.ctes[t.Name.L] {
			return n, false
		}
		schema := t.Schema.O
		if schema == "" {
			// SHOW CREATE VIEW leaves out the schema of tables in the
			// session's database (mydumper's files): qualify them.
			schema = r.schema
			t.Schema, r.changed = ast.NewCIStr(schema), true
		}
		s, tb := r.route(schema, t.Name.O)
		if s != schema || tb != t.Name.O {
			t.Schema, t.Name = ast.NewCIStr(s), ast.NewCIStr(tb)
			r.changed = true
		}
	}
	return n, false
}

func (r *viewRouter) Leave(n ast.Node) (ast.Node, bool) { return n, true }
