package filter

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions of the parser
)

// ErrUnsupportedDDL means a statement could not be parsed or is of a kind
// the sync unit does not replicate.
var ErrUnsupportedDDL = errors.New("unsupported DDL")

// TableName is a schema and table; Name is "" for a database.
type TableName struct{ Schema, Name string }

func (t TableName) String() string {
	if t.Name == "" {
		return t.Schema
	}
	return t.Schema + "." + t.Name
}

// DDL is one statement of a query event.
type DDL struct {
	Text   string // the statement as written upstream
	Stmt   ast.StmtNode
	Events []string    // DM event names, most specific first
	Tables []TableName // the subject first; for RENAME old then new per pair
	// DatabaseLevel is set for CREATE/ALTER/DROP DATABASE.
	DatabaseLevel bool
	// Drop is set for DROP TABLE / DROP DATABASE.
	Drop bool
}

// skipped are statements that are not replicated (accounts, routines,
// maintenance); they are ignored without parsing, as in DM.
var skipped = regexp.MustCompile(`(?is)^\s*(/\*.*?\*/\s*)*(GRANT|REVOKE|CREATE\s+USER|ALTER\s+USER|DROP\s+USER|RENAME\s+USER|SET\s+PASSWORD|FLUSH|CREATE\s+(DEFINER\s*=\s*\S+\s+)?(TRIGGER|PROCEDURE|FUNCTION|EVENT)|DROP\s+(TRIGGER|PROCEDURE|FUNCTION|EVENT)|ALTER\s+(PROCEDURE|FUNCTION|EVENT)|ANALYZE|OPTIMIZE|REPAIR|CHECK\s+TABLE|SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK|XA\s|INSTALL|UNINSTALL|CREATE\s+ROLE|DROP\s+ROLE|SET\s|DO\s|CREATE\s+(OR\s+REPLACE\s+)?(ALGORITHM\s*=\s*\S+\s+)?(DEFINER\s*=\s*\S+\s+)?(SQL\s+SECURITY\s+\S+\s+)?VIEW|DROP\s+VIEW|ALTER\s+VIEW|CREATE\s+SERVER|DROP\s+SERVER|CREATE\s+SEQUENCE|DROP\s+SEQUENCE|ALTER\s+SEQUENCE)\b`)

// Skipped reports whether the statement is one the sync unit ignores.
func Skipped(sql string) bool { return skipped.MatchString(sql) }

// ParseDDL parses the text of a query event into its statements, with
// table names qualified by defaultSchema where they have none.
func ParseDDL(p *parser.Parser, sql, defaultSchema string) ([]*DDL, error) {
	stmts, _, err := p.ParseSQL(sql)
	if err != nil {
		return nil, fmt.Errorf("%w: the TiDB parser rejects it: %v", ErrUnsupportedDDL, err)
	}
	var out []*DDL
	for _, s := range stmts {
		for _, one := range split(s) {
			d, err := classify(one, defaultSchema)
			if err != nil {
				return nil, err
			}
			if d == nil {
				continue
			}
			switch {
			case one != s:
				if d.Text, err = restore(one); err != nil {
					return nil, err
				}
			case len(stmts) == 1:
				d.Text = sql
			default:
				d.Text = strings.TrimSpace(s.OriginalText())
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// split turns DROP TABLE a, b and RENAME TABLE a TO b, c TO d into one
// statement per table (DROP gets IF EXISTS), so that each can be filtered
// and routed on its own, as DM does.
func split(s ast.StmtNode) []ast.StmtNode {
	switch n := s.(type) {
	case *ast.DropTableStmt:
		if len(n.Tables) > 1 && !n.IsView {
			out := make([]ast.StmtNode, len(n.Tables))
			for i, t := range n.Tables {
				out[i] = &ast.DropTableStmt{IfExists: true, Tables: []*ast.TableName{t}}
			}
			return out
		}
	case *ast.RenameTableStmt:
		if len(n.TableToTables) > 1 {
			out := make([]ast.StmtNode, len(n.TableToTables))
			for i, tt := range n.TableToTables {
				out[i] = &ast.RenameTableStmt{TableToTables: []*ast.TableToTable{tt}}
			}
			return out
		}
	}
	return []ast.StmtNode{s}
}

const restoreFlags = format.RestoreStringSingleQuotes | format.RestoreKeyWordUppercase | format.RestoreNameBackQuotes |
	format.RestoreSpacesAroundBinaryOperation | format.RestoreStringWithoutDefaultCharset

func restore(n ast.Node) (string, error) {
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(restoreFlags, &b)); err != nil {
		return "", fmt.Errorf("%w: restore statement: %v", ErrUnsupportedDDL, err)
	}
	return b.String(), nil
}

func qualify(t *ast.TableName, schema string) TableName {
	if t.Schema.O == "" {
		t.Schema = ast.NewCIStr(schema)
	}
	return TableName{Schema: t.Schema.O, Name: t.Name.O}
}

func classify(s ast.StmtNode, schema string) (*DDL, error) {
	d := &DDL{Stmt: s}
	switch n := s.(type) {
	case *ast.CreateDatabaseStmt:
		d.DatabaseLevel, d.Events = true, []string{"create database", "create schema"}
		d.Tables = []TableName{{Schema: n.Name.O}}
	case *ast.DropDatabaseStmt:
		d.DatabaseLevel, d.Drop, d.Events = true, true, []string{"drop database", "drop schema"}
		d.Tables = []TableName{{Schema: n.Name.O}}
	case *ast.AlterDatabaseStmt:
		name := n.Name.O
		if n.AlterDefaultDatabase || name == "" {
			name = schema
		}
		d.DatabaseLevel, d.Events = true, []string{"alter database", "alter schema"}
		d.Tables = []TableName{{Schema: name}}
	case *ast.CreateTableStmt:
		if n.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		d.Events = []string{"create table"}
		d.Tables = []TableName{qualify(n.Table, schema)}
		if n.ReferTable != nil {
			d.Tables = append(d.Tables, qualify(n.ReferTable, schema))
		}
	case *ast.DropTableStmt:
		if n.IsView || n.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		d.Drop, d.Events = true, []string{"drop table"}
		for _, t := range n.Tables {
			d.Tables = append(d.Tables, qualify(t, schema))
		}
	case *ast.TruncateTableStmt:
		d.Events = []string{"truncate table"}
		d.Tables = []TableName{qualify(n.Table, schema)}
	case *ast.RenameTableStmt:
		d.Events = []string{"rename table"}
		for _, tt := range n.TableToTables {
			d.Tables = append(d.Tables, qualify(tt.OldTable, schema), qualify(tt.NewTable, schema))
		}
	case *ast.CreateIndexStmt:
		d.Events = []string{"create index"}
		d.Tables = []TableName{qualify(n.Table, schema)}
	case *ast.DropIndexStmt:
		d.Events = []string{"drop index"}
		d.Tables = []TableName{qualify(n.Table, schema)}
	case *ast.AlterTableStmt:
		d.Events = alterEvents(n)
		d.Tables = []TableName{qualify(n.Table, schema)}
		for _, sp := range n.Specs {
			if sp.Tp == ast.AlterTableRenameTable && sp.NewTable != nil {
				d.Tables = append(d.Tables, qualify(sp.NewTable, schema))
			}
		}
	default:
		return nil, fmt.Errorf("%w: %T is not replicated", ErrUnsupportedDDL, s)
	}
	// Qualify every other table name too (foreign key references).
	s.Accept(&qualifier{schema: schema})
	return d, nil
}

func alterEvents(n *ast.AlterTableStmt) []string {
	var ev []string
	for _, sp := range n.Specs {
		switch sp.Tp {
		case ast.AlterTableAddColumns:
			ev = append(ev, "add column")
		case ast.AlterTableDropColumn:
			ev = append(ev, "drop column")
		case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
			ev = append(ev, "modify column")
		case ast.AlterTableRenameColumn:
			ev = append(ev, "rename column")
		case ast.AlterTableRenameIndex:
			ev = append(ev, "rename index")
		case ast.AlterTableDropPrimaryKey:
			ev = append(ev, "drop primary key")
		case ast.AlterTableDropIndex:
			ev = append(ev, "drop index")
		case ast.AlterTableDropForeignKey:
			ev = append(ev, "drop foreign key")
		case ast.AlterTableAddConstraint:
			if sp.Constraint != nil && sp.Constraint.Tp == ast.ConstraintPrimaryKey {
				ev = append(ev, "add primary key")
			} else if sp.Constraint != nil && sp.Constraint.Tp == ast.ConstraintForeignKey {
				ev = append(ev, "add foreign key")
			} else {
				ev = append(ev, "create index")
			}
		case ast.AlterTableRenameTable:
			ev = append(ev, "rename table")
		}
	}
	return append(ev, "alter table")
}

type qualifier struct{ schema string }

func (q *qualifier) Enter(n ast.Node) (ast.Node, bool) {
	if t, ok := n.(*ast.TableName); ok && t.Schema.O == "" {
		t.Schema = ast.NewCIStr(q.schema)
	}
	return n, false
}

func (q *qualifier) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// Route rewrites every table (and for database-level statements the
// database) name of d through route and returns the statement to run on
// the target, and whether any name changed. When none changed the
// upstream text is returned unchanged (run it with the default schema).
func (d *DDL) Route(route func(schema, table string) (string, string)) (string, bool, error) {
	r := &router{route: route}
	switch n := d.Stmt.(type) {
	case *ast.CreateDatabaseStmt:
		r.renameDB(&n.Name)
	case *ast.DropDatabaseStmt:
		r.renameDB(&n.Name)
	case *ast.AlterDatabaseStmt:
		if n.Name.O != "" {
			r.renameDB(&n.Name)
		}
	default:
		d.Stmt.Accept(r)
	}
	if !r.changed {
		return d.Text, false, nil
	}
	text, err := restore(d.Stmt)
	return text, err == nil, err
}

type router struct {
	route   func(schema, table string) (string, string)
	changed bool
}

func (r *router) renameDB(name *ast.CIStr) {
	s, _ := r.route(name.O, "")
	if s != name.O {
		*name = ast.NewCIStr(s)
		r.changed = true
	}
}

func (r *router) Enter(n ast.Node) (ast.Node, bool) {
	if t, ok := n.(*ast.TableName); ok {
		s, tb := r.route(t.Schema.O, t.Name.O)
		if s != t.Schema.O || tb != t.Name.O {
			t.Schema, t.Name = ast.NewCIStr(s), ast.NewCIStr(tb)
			r.changed = true
		}
	}
	return n, false
}

func (r *router) Leave(n ast.Node) (ast.Node, bool) { return n, true }
