package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BlockAllowList selects the upstream schemas and tables to migrate (DM's
// block-allow-list, formerly black-white-list). A name starting with "~" is
// a regular expression.
type BlockAllowList struct {
	Name         string      `yaml:"-" json:"name,omitempty"` // its key in the task, set by Normalize
	DoDBs        []string    `yaml:"do-dbs" json:"do-dbs,omitempty"`
	IgnoreDBs    []string    `yaml:"ignore-dbs" json:"ignore-dbs,omitempty"`
	DoTables     []*TableRef `yaml:"do-tables" json:"do-tables,omitempty"`
	IgnoreTables []*TableRef `yaml:"ignore-tables" json:"ignore-tables,omitempty"`
}

// TableRef names one table (or, with "~", a pattern) of a block-allow-list.
type TableRef struct {
	Schema string `yaml:"db-name" json:"db-name"`
	Table  string `yaml:"tbl-name" json:"tbl-name"`
}

// RouteRule maps upstream schemas/tables (wildcard patterns) to one target
// schema and table, as DM's routes.
type RouteRule struct {
	Name          string         `yaml:"-" json:"name,omitempty"` // its key in the task, set by Normalize
	SchemaPattern string         `yaml:"schema-pattern" json:"schema-pattern"`
	TablePattern  string         `yaml:"table-pattern" json:"table-pattern,omitempty"`
	TargetSchema  string         `yaml:"target-schema" json:"target-schema"`
	TargetTable   string         `yaml:"target-table" json:"target-table,omitempty"`
	ExtractTable  *TableExtract  `yaml:"extract-table" json:"extract-table,omitempty"`
	ExtractSchema *SchemaExtract `yaml:"extract-schema" json:"extract-schema,omitempty"`
	ExtractSource *SourceExtract `yaml:"extract-source" json:"extract-source,omitempty"`
}

// TableExtract writes a part of the upstream table name into a column.
type TableExtract struct {
	TableRegexp  string `yaml:"table-regexp" json:"table-regexp"`
	TargetColumn string `yaml:"target-column" json:"target-column"`
}

// SchemaExtract writes a part of the upstream schema name into a column.
type SchemaExtract struct {
	SchemaRegexp string `yaml:"schema-regexp" json:"schema-regexp"`
	TargetColumn string `yaml:"target-column" json:"target-column"`
}

// SourceExtract writes a part of the source id into a column.
type SourceExtract struct {
	SourceRegexp string `yaml:"source-regexp" json:"source-regexp"`
	TargetColumn string `yaml:"target-column" json:"target-column"`
}

// Filter actions.
const (
	ActionDo     = "Do"
	ActionIgnore = "Ignore"
	ActionError  = "Error"
)

// EventFilterRule is DM's binlog event filter: for the matching tables, Do
// only (or Ignore, or stop with an Error at) the listed events and the
// statements matching sql-pattern.
type EventFilterRule struct {
	Name          string   `yaml:"-" json:"name,omitempty"` // its key in the task, set by Normalize
	SchemaPattern string   `yaml:"schema-pattern" json:"schema-pattern"`
	TablePattern  string   `yaml:"table-pattern" json:"table-pattern,omitempty"`
	Events        []string `yaml:"events" json:"events,omitempty"`           // lower case after parsing
	SQLPattern    []string `yaml:"sql-pattern" json:"sql-pattern,omitempty"` // regular expressions
	Action        string   `yaml:"action" json:"action"`                     // Do | Ignore | Error
}

// FilterEvents are the event names an EventFilterRule may list (DM's).
func FilterEvents() []string {
	return []string{
		"all", "all dml", "all ddl", "none", "none dml", "none ddl",
		"insert", "update", "delete",
		"create database", "drop database", "alter database",
		"create schema", "drop schema", "alter schema",
		"create table", "drop table", "truncate table", "rename table", "alter table",
		"create index", "drop index", "create view", "drop view",
		"add table partition", "drop table partition", "truncate table partition",
		"add foreign key", "drop foreign key", "incompatible ddl changes",
		"value range decrease", "precision decrease", "modify column", "rename column",
		"rename index", "drop column", "drop primary key", "drop unique key",
		"modify default value", "modify constraint", "modify columns order",
		"modify charset", "modify collation", "remove auto increment",
		"modify storage engine", "reorganize table partition", "rebuild table partition",
		"coalesce table partition", "split table partition", "exchange table partition",
		"add column", "add primary key", "set default value",
		"modify schema charset and collate", "modify table charset and collate",
		"modify table comment",
	}
}

func (r *BlockAllowList) validate(p *problems, field string) {
	for i, db := range r.DoDBs {
		checkPattern(p, joinIndex(field+".do-dbs", i), db)
	}
	for i, db := range r.IgnoreDBs {
		checkPattern(p, joinIndex(field+".ignore-dbs", i), db)
	}
	lists := []struct {
		name string
		refs []*TableRef
	}{{"do-tables", r.DoTables}, {"ignore-tables", r.IgnoreTables}}
	for _, list := range lists {
		for i, t := range list.refs {
			f := joinIndex(field+"."+list.name, i)
			if t == nil || t.Schema == "" {
				p.missing(f+".db-name", "the schema of the table; \"~\" starts a regular expression")
				continue
			}
			if t.Table == "" {
				p.missing(f+".tbl-name", "the table name; \"~\" starts a regular expression")
			}
			checkPattern(p, f+".db-name", t.Schema)
			checkPattern(p, f+".tbl-name", t.Table)
		}
	}
}

// checkPattern checks a block-allow-list name: "~regexp" must compile.
func checkPattern(p *problems, field, name string) {
	if re, ok := strings.CutPrefix(name, "~"); ok {
		checkRegexp(p, field, re)
	}
}

func checkRegexp(p *problems, field, re string) {
	if _, err := regexp.Compile(re); err != nil {
		p.add(ErrInvalidValue, field, "a Go/RE2 regular expression", "%q is not a valid regular expression: %v", field, err)
	}
}

func (r *RouteRule) validate(p *problems, field string) {
	if r.SchemaPattern == "" {
		p.missing(field+".schema-pattern", "the upstream schemas to route, e.g. \"shard_db_*\"")
	}
	if r.TargetSchema == "" {
		p.missing(field+".target-schema", "the schema on the target the matching tables go to")
	}
	if r.TablePattern == "" && r.TargetTable != "" {
		p.add(ErrInvalidValue, field+".target-table", "set table-pattern too, or remove target-table",
			"%q is set without %q", field+".target-table", field+".table-pattern")
	}
	if e := r.ExtractTable; e != nil {
		checkExtract(p, field+".extract-table", "table-regexp", e.TableRegexp, e.TargetColumn)
	}
	if e := r.ExtractSchema; e != nil {
		checkExtract(p, field+".extract-schema", "schema-regexp", e.SchemaRegexp, e.TargetColumn)
	}
	if e := r.ExtractSource; e != nil {
		checkExtract(p, field+".extract-source", "source-regexp", e.SourceRegexp, e.TargetColumn)
	}
}

func checkExtract(p *problems, field, reField, re, column string) {
	if column == "" {
		p.missing(field+".target-column", "the target column that receives the extracted value")
	}
	if re == "" {
		p.missing(field+"."+reField, "a regular expression whose first group is extracted")
		return
	}
	checkRegexp(p, field+"."+reField, re)
}

// validate checks the rule and normalizes the case of events and action.
func (r *EventFilterRule) validate(p *problems, field string) {
	if r.SchemaPattern == "" {
		p.missing(field+".schema-pattern", "the upstream schemas the rule applies to, e.g. \"*\"")
	}
	actions := []string{ActionDo, ActionIgnore, ActionError}
	switch i := slices.IndexFunc(actions, func(a string) bool { return strings.EqualFold(a, r.Action) }); {
	case r.Action == "":
		p.missing(field+".action", "one of "+strings.Join(actions, ", "))
	case i < 0:
		p.badEnum(field+".action", r.Action, actions)
	default:
		r.Action = actions[i]
	}
	known := FilterEvents()
	for i, e := range r.Events {
		norm := strings.Join(strings.Fields(strings.ToLower(e)), " ")
		if !slices.Contains(known, norm) {
			hint := "see DM's binlog event filter: all, all dml, all ddl, insert, update, delete, create table, drop table, ..."
			if s := suggest(norm, known); s != "" {
				hint = "did you mean \"" + s + "\"?"
			}
			p.add(ErrInvalidValue, joinIndex(field+".events", i), hint, "unknown event %q in %q", e, field+".events")
			continue
		}
		r.Events[i] = norm
	}
	if len(r.SQLPattern) > 0 {
		checkRegexp(p, field+".sql-pattern", "(?i)"+strings.Join(r.SQLPattern, "|"))
	}
}

func joinIndex(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
