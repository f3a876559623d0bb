package shardlock

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	// Value expressions (DEFAULT 0, DEFAULT 'x') need a driver.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// Schema is the compact table schema that optimistic coordination works
// with: the columns (in order) and the indexes of one table. It is stored as
// JSON in ShardInfo.table_info_before / table_infos_after and in
// ShardLock.joined_table_info. Column and index names compare
// case-insensitively, as in MySQL.
type Schema struct {
	Columns []Column `json:"columns"`
	Indexes []Index  `json:"indexes,omitempty"`
}

// Column is one column: its canonical type (see canonicalType), whether it
// takes NULL, and its default as a SQL literal (nil: no default, or DEFAULT
// NULL on a nullable column).
type Column struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Nullable bool    `json:"nullable,omitempty"`
	Default  *string `json:"default,omitempty"`
}

// Index is one index; the primary key is named "PRIMARY".
type Index struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique,omitempty"`
}

const primaryKey = "PRIMARY"

// EncodeSchema returns the JSON form of s; nil for a nil schema.
func EncodeSchema(s *Schema) []byte {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("shardlock: encode schema: %v", err)) // plain structs always encode
	}
	return b
}

// DecodeSchema reads what EncodeSchema wrote; empty input is a nil schema.
func DecodeSchema(b []byte) (*Schema, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode table schema: %w", err)
	}
	return &s, nil
}

// ParseCreateTable builds the schema of a CREATE TABLE statement.
func ParseCreateTable(sql string) (*Schema, error) {
	stmt, err := parseOne(sql)
	if err != nil {
		return nil, err
	}
	ct, isCreate := stmt.(*ast.CreateTableStmt)
	if !isCreate {
		return nil, fmt.Errorf("%w: want CREATE TABLE, got %q", ErrUnsupportedDDL, sql)
	}
	if ct.ReferTable != nil || ct.Select != nil {
		return nil, fmt.Errorf("%w: CREATE TABLE ... LIKE/SELECT: %q", ErrUnsupportedDDL, sql)
	}
	s := &Schema{}
	for _, def := range ct.Cols {
		if err := s.addColumn(def, false); err != nil {
			return nil, err
		}
	}
	for _, c := range ct.Constraints {
		if err := s.addConstraint(c, false); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ApplyDDL returns the schema after one DDL statement; s is not changed.
// Supported: ALTER TABLE with ADD/DROP/MODIFY COLUMN, CHANGE COLUMN that
// keeps the name, ALTER COLUMN SET/DROP DEFAULT, ADD/DROP INDEX, KEY,
// UNIQUE and PRIMARY KEY, table options (no change); CREATE INDEX and DROP
// INDEX. Anything that renames (tables, columns, indexes) or any other
// statement fails with ErrUnsupportedDDL.
func (s *Schema) ApplyDDL(sql string) (*Schema, error) {
	stmt, err := parseOne(sql)
	if err != nil {
		return nil, err
	}
	next := s.clone()
	switch st := stmt.(type) {
	case *ast.AlterTableStmt:
		for _, spec := range st.Specs {
			if err := next.applySpec(spec); err != nil {
				return nil, fmt.Errorf("%w (in %q)", err, sql)
			}
		}
	case *ast.CreateIndexStmt:
		idx := Index{Name: st.IndexName, Unique: st.KeyType == ast.IndexKeyTypeUnique}
		for _, k := range st.IndexPartSpecifications {
			if k.Column == nil {
				return nil, fmt.Errorf("%w: expression index in %q", ErrUnsupportedDDL, sql)
			}
			idx.Columns = append(idx.Columns, k.Column.Name.O)
		}
		if err := next.addIndex(idx, st.IfNotExists); err != nil {
			return nil, fmt.Errorf("%w (in %q)", err, sql)
		}
	case *ast.DropIndexStmt:
		if err := next.dropIndex(st.IndexName, st.IfExists); err != nil {
			return nil, fmt.Errorf("%w (in %q)", err, sql)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedDDL, sql)
	}
	return next, nil
}

func parseOne(sql string) (ast.StmtNode, error) {
	stmt, err := parser.New().ParseOneStmt(sql, "", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %s", ErrParse, sql, strings.TrimSpace(err.Error()))
	}
	return stmt, nil
}

func (s *Schema) applySpec(spec *ast.AlterTableSpec) error {
	switch spec.Tp {
	case ast.AlterTableOption:
		return nil // engine, charset, comment: no column or index changes
	case ast.AlterTableAddColumns:
		for _, def := range spec.NewColumns {
			if spec.IfNotExists && s.column(def.Name.Name.O) != nil {
				continue
			}
			if err := s.addColumn(def, false); err != nil {
				return err
			}
		}
		for _, c := range spec.NewConstraints {
			if err := s.addConstraint(c, false); err != nil {
				return err
			}
		}
		return nil
	case ast.AlterTableDropColumn:
		return s.dropColumn(spec.OldColumnName.Name.O, spec.IfExists)
	case ast.AlterTableModifyColumn:
		return s.addColumn(spec.NewColumns[0], true)
	case ast.AlterTableChangeColumn:
		if old, name := spec.OldColumnName.Name.O, spec.NewColumns[0].Name.Name.O; !strings.EqualFold(old, name) {
			return fmt.Errorf("%w: rename column %s to %s", ErrUnsupportedDDL, old, name)
		}
		return s.addColumn(spec.NewColumns[0], true)
	case ast.AlterTableAlterColumn:
		def := spec.NewColumns[0]
		c := s.column(def.Name.Name.O)
		if c == nil {
			return fmt.Errorf("%w: column %s does not exist", ErrBadDDL, def.Name.Name.O)
		}
		c.Default = nil // DROP DEFAULT: no options; SET DEFAULT: one, with the value
		if len(def.Options) == 1 && def.Options[0].Expr != nil {
			c.Default = restoreDefault(def.Options[0].Expr)
		}
		return nil
	case ast.AlterTableAddConstraint:
		return s.addConstraint(spec.Constraint, spec.Constraint.IfNotExists)
	case ast.AlterTableDropIndex:
		return s.dropIndex(spec.Name, spec.IfExists)
	case ast.AlterTableDropPrimaryKey:
		return s.dropIndex(primaryKey, false)
	}
	var b strings.Builder
	if err := spec.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &b)); err != nil {
		b.WriteString(fmt.Sprintf("alter table spec %d", spec.Tp))
	}
	return fmt.Errorf("%w: %s", ErrUnsupportedDDL, b.String())
}

// addColumn adds def, or with replace changes the existing column in place.
func (s *Schema) addColumn(def *ast.ColumnDef, replace bool) error {
	name := def.Name.Name.O
	typ, err := canonicalType(def.Tp)
	if err != nil {
		return fmt.Errorf("column %s: %w", name, err)
	}
	c := Column{Name: name, Type: typ, Nullable: true}
	var indexes []Index
	for _, o := range def.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.Nullable = false
		case ast.ColumnOptionNull:
			c.Nullable = true
		case ast.ColumnOptionDefaultValue:
			c.Default = restoreDefault(o.Expr)
		case ast.ColumnOptionPrimaryKey:
			c.Nullable = false
			indexes = append(indexes, Index{Name: primaryKey, Columns: []string{name}, Unique: true})
		case ast.ColumnOptionUniqKey:
			indexes = append(indexes, Index{Name: s.freeIndexName(name), Columns: []string{name}, Unique: true})
		}
	}
	if s.primaryKeyHas(name) {
		c.Nullable = false
	}
	if old := s.column(name); old != nil {
		if !replace {
			return fmt.Errorf("%w: column %s already exists", ErrBadDDL, name)
		}
		*old = c
	} else {
		if replace {
			return fmt.Errorf("%w: column %s does not exist", ErrBadDDL, name)
		}
		s.Columns = append(s.Columns, c)
	}
	for _, idx := range indexes {
		if err := s.addIndex(idx, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Schema) dropColumn(name string, ifExists bool) error {
	i := slices.IndexFunc(s.Columns, func(c Column) bool { return strings.EqualFold(c.Name, name) })
	if i < 0 {
		if ifExists {
			return nil
		}
		return fmt.Errorf("%w: column %s does not exist", ErrBadDDL, name)
	}
	s.Columns = slices.Delete(s.Columns, i, i+1)
	// As MySQL: the column leaves every index; an index left empty goes.
	var kept []Index
	for _, idx := range s.Indexes {
		idx.Columns = slices.DeleteFunc(slices.Clone(idx.Columns), func(c string) bool { return strings.EqualFold(c, name) })
		if len(idx.Columns) > 0 {
			kept = append(kept, idx)
		}
	}
	s.Indexes = kept
	return nil
}

func (s *Schema) addConstraint(c *ast.Constraint, ifNotExists bool) error {
	idx := Index{Name: c.Name}
	switch c.Tp {
	case ast.ConstraintPrimaryKey:
		idx.Name, idx.Unique = primaryKey, true
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		idx.Unique = true
	case ast.ConstraintKey, ast.ConstraintIndex, ast.ConstraintFulltext:
	default:
		return nil // foreign keys and checks do not change the merged table's shape
	}
	for _, k := range c.Keys {
		if k.Column == nil {
			return fmt.Errorf("%w: expression index %s", ErrUnsupportedDDL, c.Name)
		}
		idx.Columns = append(idx.Columns, k.Column.Name.O)
	}
	if idx.Name == "" {
		idx.Name = s.freeIndexName(idx.Columns[0])
	}
	if idx.Name == primaryKey {
		for _, col := range idx.Columns {
			if cc := s.column(col); cc != nil {
				cc.Nullable = false
			}
		}
	}
	return s.addIndex(idx, ifNotExists)
}

func (s *Schema) addIndex(idx Index, ifNotExists bool) error {
	if s.index(idx.Name) != nil {
		if ifNotExists {
			return nil
		}
		return fmt.Errorf("%w: index %s already exists", ErrBadDDL, idx.Name)
	}
	for _, col := range idx.Columns {
		if s.column(col) == nil {
			return fmt.Errorf("%w: index %s names column %s, which does not exist", ErrBadDDL, idx.Name, col)
		}
	}
	s.Indexes = append(s.Indexes, idx)
	return nil
}

func (s *Schema) dropIndex(name string, ifExists bool) error {
	i := slices.IndexFunc(s.Indexes, func(x Index) bool { return strings.EqualFold(x.Name, name) })
	if i < 0 {
		if ifExists {
			return nil
		}
		return fmt.Errorf("%w: index %s does not exist", ErrBadDDL, name)
	}
	s.Indexes = slices.Delete(s.Indexes, i, i+1)
	return nil
}

// freeIndexName names an unnamed index as MySQL does: after its first
// column, with _2, _3, ... when taken.
func (s *Schema) freeIndexName(col string) string {
	name := col
	for n := 2; s.index(name) != nil || strings.EqualFold(name, primaryKey); n++ {
		name = fmt.Sprintf("%s_%d", col, n)
	}
	return name
}

func (s *Schema) primaryKeyHas(col string) bool {
	pk := s.index(primaryKey)
	return pk != nil && slices.ContainsFunc(pk.Columns, func(c string) bool { return strings.EqualFold(c, col) })
}

func (s *Schema) column(name string) *Column {
	if s == nil {
		return nil
	}
	for i := range s.Columns {
		if strings.EqualFold(s.Columns[i].Name, name) {
			return &s.Columns[i]
		}
	}
	return nil
}

func (s *Schema) index(name string) *Index {
	if s == nil {
		return nil
	}
	for i := range s.Indexes {
		if strings.EqualFold(s.Indexes[i].Name, name) {
			return &s.Indexes[i]
		}
	}
	return nil
}

func (s *Schema) clone() *Schema {
	if s == nil {
		return &Schema{}
	}
	c := &Schema{Columns: slices.Clone(s.Columns)}
	for _, idx := range s.Indexes {
		idx.Columns = slices.Clone(idx.Columns)
		c.Indexes = append(c.Indexes, idx)
	}
	return c
}

// equal reports whether two schemas have the same columns (in any order)
// and the same indexes.
func (s *Schema) equal(o *Schema) bool {
	if len(s.Columns) != len(o.Columns) || len(s.Indexes) != len(o.Indexes) {
		return false
	}
	for _, c := range s.Columns {
		oc := o.column(c.Name)
		if oc == nil || !columnsEqual(c, *oc) {
			return false
		}
	}
	for _, idx := range s.Indexes {
		oi := o.index(idx.Name)
		if oi == nil || !indexesEqual(idx, *oi) {
			return false
		}
	}
	return true
}

func columnsEqual(a, b Column) bool {
	return a.Type == b.Type && a.Nullable == b.Nullable && defaultText(a.Default) == defaultText(b.Default)
}

func indexesEqual(a, b Index) bool {
	return a.Unique == b.Unique && slices.EqualFunc(a.Columns, b.Columns, strings.EqualFold)
}

func defaultText(d *string) string {
	if d == nil {
		return "<none>"
	}
	return *d
}

// String is a one-line rendering for status output and tests:
// "id int NOT NULL, a varchar(10) DEFAULT 'x' | PRIMARY(id), UNIQUE a(a)".
func (s *Schema) String() string {
	if s == nil {
		return "<unknown>"
	}
	var cols, idxs []string
	for _, c := range s.Columns {
		cols = append(cols, columnSQL(c, false))
	}
	for _, idx := range s.Indexes {
		kind := ""
		if idx.Unique && idx.Name != primaryKey {
			kind = "UNIQUE "
		}
		idxs = append(idxs, fmt.Sprintf("%s%s(%s)", kind, idx.Name, strings.Join(idx.Columns, ",")))
	}
	out := strings.Join(cols, ", ")
	if len(idxs) > 0 {
		out += " | " + strings.Join(idxs, ", ")
	}
	return out
}

// columnSQL renders a column definition; quoted names for statements.
func columnSQL(c Column, quote bool) string {
	var b strings.Builder
	if quote {
		b.WriteString(quoteName(c.Name))
	} else {
		b.WriteString(c.Name)
	}
	b.WriteString(" " + c.Type)
	if !c.Nullable {
		b.WriteString(" NOT NULL")
	} else if quote {
		b.WriteString(" NULL")
	}
	if c.Default != nil {
		b.WriteString(" DEFAULT " + *c.Default)
	}
	return b.String()
}

func quoteName(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func restoreDefault(expr ast.ExprNode) *string {
	var b strings.Builder
	if err := expr.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags|format.RestoreStringWithoutCharset, &b)); err != nil {
		return nil
	}
	if strings.EqualFold(b.String(), "NULL") {
		return nil
	}
	out := b.String()
	return &out
}

// canonicalType renders a column type the same way whatever its spelling:
// lower case, no display width for integers, explicit lengths where they
// matter ("int unsigned", "varchar(20)", "decimal(10,2)", "datetime(3)",
// "enum('a','b')").
func canonicalType(ft *types.FieldType) (string, error) {
	tp := ft.GetType()
	base := types.TypeToStr(tp, ft.GetCharset())
	if base == "" {
		return "", fmt.Errorf("%w: column type %d", ErrUnsupportedDDL, tp)
	}
	unsigned := ""
	if mysql.HasUnsignedFlag(ft.GetFlag()) {
		unsigned = " unsigned"
	}
	flen, dec := ft.GetFlen(), ft.GetDecimal()
	switch tp {
	case mysql.TypeTiny, mysql.TypeShort, mysql.TypeInt24, mysql.TypeLong, mysql.TypeLonglong:
		return base + unsigned, nil
	case mysql.TypeFloat, mysql.TypeDouble:
		return base + unsigned, nil
	case mysql.TypeNewDecimal:
		if flen <= 0 {
			flen = 10
		}
		if dec < 0 {
			dec = 0
		}
		return fmt.Sprintf("%s(%d,%d)%s", base, flen, dec, unsigned), nil
	case mysql.TypeString, mysql.TypeVarchar, mysql.TypeVarString, mysql.TypeBit:
		if flen <= 0 {
			flen = 1
		}
		return fmt.Sprintf("%s(%d)", base, flen), nil
	case mysql.TypeDatetime, mysql.TypeTimestamp, mysql.TypeDuration:
		if dec > 0 {
			return fmt.Sprintf("%s(%d)", base, dec), nil
		}
		return base, nil
	case mysql.TypeEnum, mysql.TypeSet:
		var elems []string
		for _, e := range ft.GetElems() {
			elems = append(elems, "'"+strings.ReplaceAll(e, "'", "''")+"'")
		}
		return base + "(" + strings.Join(elems, ",") + ")", nil
	}
	return base, nil
}
