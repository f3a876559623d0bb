package load

import (
	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions of the parser

	"github.com/dmraft/dmraft/executor/dump"
)

// ColumnsOf returns the columns of a CREATE TABLE statement (names and
// whether they are generated), or nil when the TiDB parser cannot read it
// (then the target table's columns are not checked).
func ColumnsOf(createSQL string) []dump.Column {
	stmts, _, err := parser.New().ParseSQL(createSQL)
	if err != nil || len(stmts) != 1 {
		return nil
	}
	ct, ok := stmts[0].(*ast.CreateTableStmt)
	if !ok {
		return nil
	}
	cols := make([]dump.Column, 0, len(ct.Cols))
	for _, c := range ct.Cols {
		col := dump.Column{Name: c.Name.Name.O}
		for _, o := range c.Options {
			if o.Tp == ast.ColumnOptionGenerated {
				col.Generated = true
			}
		}
		cols = append(cols, col)
	}
	return cols
}
