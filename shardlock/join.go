package shardlock

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/format"
)

type namedSchema struct {
	key    string
	schema *Schema
}

// join decides one shard's DDLs in optimistic mode. joined is what the
// target has; before/after the shard's schema around its DDLs; others the
// current schemas of the other shards. It returns the statements to run on
// the target (on table, already quoted) and the joined schema after them,
// or a conflict message and nothing else.
//
// Rules, per change of the shard's schema:
//   - add column: new to the target -> ADD COLUMN (a NOT NULL column
//     without a default conflicts while other shards lack it: their rows
//     could not be written). Known to the target -> the wider of the two
//     types (MODIFY when that widens the target; incompatible types and
//     different defaults conflict).
//   - drop column: DROP COLUMN when no other shard has it any more; until
//     then the target keeps it (conflict if it is NOT NULL without a
//     default: the shard's rows could not be written).
//   - modify column: MODIFY when the new definition widens the target
//     (type, nullability, default); narrowing never reaches the target;
//     incompatible types conflict.
//   - add index: ADD when new to the target; the same name with other
//     columns conflicts. Drop index: DROP when no other shard has it.
//
// Statements come in this order: drop indexes, drop columns, add columns,
// modify columns, add indexes. Column positions are not kept (added
// columns go last).
func join(joined, before, after *Schema, others []namedSchema, who, table string) ([]string, *Schema, string) {
	j := joined.clone()
	var ddls []string
	alter := func(format string, args ...any) {
		ddls = append(ddls, "ALTER TABLE "+table+" "+fmt.Sprintf(format, args...))
	}
	having := func(has func(*Schema) bool) []string {
		var out []string
		for _, o := range others {
			if has(o.schema) {
				out = append(out, o.key)
			}
		}
		return out
	}

	// Drop indexes (also those redefined: dropped, then added below).
	for _, bi := range before.Indexes {
		if ai := after.index(bi.Name); ai != nil && indexesEqual(bi, *ai) {
			continue
		}
		ji := j.index(bi.Name)
		if ji == nil || len(having(func(s *Schema) bool { return s.index(bi.Name) != nil })) > 0 {
			continue
		}
		name := ji.Name
		_ = j.dropIndex(name, false)
		if strings.EqualFold(name, primaryKey) {
			alter("DROP PRIMARY KEY")
		} else {
			alter("DROP INDEX %s", quoteName(name))
		}
	}
	// Drop columns.
	for _, bc := range before.Columns {
		if after.column(bc.Name) != nil {
			continue
		}
		jc := j.column(bc.Name)
		if jc == nil {
			continue
		}
		if keep := having(func(s *Schema) bool { return s.column(bc.Name) != nil }); len(keep) > 0 {
			if !jc.Nullable && jc.Default == nil {
				return nil, nil, fmt.Sprintf("%s drops column %s, which the target keeps for %s; it is NOT NULL without a default, so rows of %s cannot be written: "+
					"give it a default or make it nullable upstream first, or skip the DDL", who, bc.Name, strings.Join(keep, ", "), who)
			}
			continue
		}
		name := jc.Name
		_ = j.dropColumn(name, false)
		alter("DROP COLUMN %s", quoteName(name))
	}
	// Add columns.
	for _, ac := range after.Columns {
		if before.column(ac.Name) != nil {
			continue
		}
		jc := j.column(ac.Name)
		if jc == nil {
			lacking := having(func(s *Schema) bool { return s.column(ac.Name) == nil })
			if !ac.Nullable && ac.Default == nil && len(lacking) > 0 {
				return nil, nil, fmt.Sprintf("%s adds column %s without a default, but %s have no such column and their rows cannot fill it: "+
					"add it with a default or as nullable", who, columnSQL(ac, false), strings.Join(lacking, ", "))
			}
			j.Columns = append(j.Columns, ac)
			alter("ADD COLUMN %s", columnSQL(ac, true))
			continue
		}
		if ac.Default != nil && jc.Default != nil && *ac.Default != *jc.Default {
			return nil, nil, fmt.Sprintf("%s adds column %s, but the target has %s: the defaults differ", who, columnSQL(ac, false), columnSQL(*jc, false))
		}
		merged, ok := mergeColumn(*jc, ac)
		if !ok {
			return nil, nil, fmt.Sprintf("%s adds column %s, but the target has %s: the types are incompatible", who, columnSQL(ac, false), columnSQL(*jc, false))
		}
		if !columnsEqual(merged, *jc) {
			*jc = merged
			alter("MODIFY COLUMN %s", columnSQL(merged, true))
		}
	}
	// Modify columns.
	for _, ac := range after.Columns {
		bc := before.column(ac.Name)
		if bc == nil || columnsEqual(*bc, ac) {
			continue
		}
		jc := j.column(ac.Name)
		if jc == nil {
			j.Columns = append(j.Columns, ac) // the target never had it: add it
			alter("ADD COLUMN %s", columnSQL(ac, true))
			continue
		}
		merged, ok := mergeColumn(*jc, ac)
		if !ok {
			return nil, nil, fmt.Sprintf("%s changes column %s to %s, but the target has %s: the types are incompatible",
				who, ac.Name, columnSQL(ac, false), columnSQL(*jc, false))
		}
		if ac.Default != nil {
			merged.Default = ac.Default
		}
		if !columnsEqual(merged, *jc) {
			*jc = merged
			alter("MODIFY COLUMN %s", columnSQL(merged, true))
		}
	}
	// Add indexes.
	for _, ai := range after.Indexes {
		if bi := before.index(ai.Name); bi != nil && indexesEqual(*bi, ai) {
			continue
		}
		if ji := j.index(ai.Name); ji != nil {
			if indexesEqual(*ji, ai) {
				continue
			}
			return nil, nil, fmt.Sprintf("%s adds index %s(%s), but the target has %s(%s)", who, ai.Name, strings.Join(ai.Columns, ","), ji.Name, strings.Join(ji.Columns, ","))
		}
		if err := j.addIndex(ai, false); err != nil {
			return nil, nil, fmt.Sprintf("%s adds index %s: %v", who, ai.Name, err)
		}
		cols := make([]string, len(ai.Columns))
		for i, c := range ai.Columns {
			cols[i] = quoteName(c)
		}
		switch {
		case strings.EqualFold(ai.Name, primaryKey):
			alter("ADD PRIMARY KEY (%s)", strings.Join(cols, ","))
		case ai.Unique:
			alter("ADD UNIQUE INDEX %s (%s)", quoteName(ai.Name), strings.Join(cols, ","))
		default:
			alter("ADD INDEX %s (%s)", quoteName(ai.Name), strings.Join(cols, ","))
		}
	}
	return ddls, j, ""
}

// mergeColumn is the target's column that serves both definitions: the
// wider type, nullable if either is; false when no type holds both.
func mergeColumn(target, shard Column) (Column, bool) {
	typ, ok := widest(target.Type, shard.Type)
	if !ok {
		return Column{}, false
	}
	out := target
	out.Type = typ
	out.Nullable = target.Nullable || shard.Nullable
	if out.Default == nil {
		out.Default = shard.Default
	}
	return out, true
}

// lenientJoin is the first joined schema of a new optimistic lock: the
// union of the shards' columns and indexes at rest, the wider type where
// they differ (the first shard's where no type holds both). Nil when no
// shard has a schema.
func lenientJoin(schemas []*Schema) *Schema {
	var j *Schema
	for _, s := range schemas {
		if s == nil {
			continue
		}
		if j == nil {
			j = s.clone()
			continue
		}
		for _, c := range s.Columns {
			jc := j.column(c.Name)
			if jc == nil {
				j.Columns = append(j.Columns, c)
				continue
			}
			if merged, ok := mergeColumn(*jc, c); ok {
				*jc = merged
			}
		}
		for _, idx := range s.Indexes {
			if j.index(idx.Name) == nil {
				_ = j.addIndex(Index{Name: idx.Name, Columns: slices.Clone(idx.Columns), Unique: idx.Unique}, false)
			}
		}
	}
	return j
}

// normalizeDDL is the statement as the parser restores it, so spelling
// differences (case, quotes, spaces) do not count; the trimmed text when it
// does not parse.
func normalizeDDL(sql string) string {
	stmt, err := parseOne(sql)
	if err != nil {
		return strings.TrimSpace(sql)
	}
	var b strings.Builder
	if err := stmt.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &b)); err != nil {
		return strings.TrimSpace(sql)
	}
	return b.String()
}
