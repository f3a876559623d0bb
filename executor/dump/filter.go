package dump

import (
	"path"
	"regexp"
	"strings"

	"github.com/dmraft/dmraft/fsm/config"
)

// systemSchemas are never migrated.
var systemSchemas = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
	"metrics_schema": true, "inspection_schema": true,
}

// Selector applies one instance's block-allow-list and routes.
type Selector struct {
	bal           *config.BlockAllowList
	routes        []*config.RouteRule
	caseSensitive bool
	metaSchema    string
}

// NewSelector returns the selector of inst in task t.
func NewSelector(t *config.Task, inst *config.Instance) *Selector {
	return &Selector{bal: inst.BlockAllowList, routes: inst.Routes, caseSensitive: t.CaseSensitive, metaSchema: t.MetaSchema}
}

func (s *Selector) fold(v string) string {
	if s.caseSensitive {
		return v
	}
	return strings.ToLower(v)
}

// matchName matches a block-allow-list name: "~re" is a regular
// expression, anything else an exact name.
func (s *Selector) matchName(pattern, name string) bool {
	if re, ok := strings.CutPrefix(pattern, "~"); ok {
		if !s.caseSensitive {
			re = "(?i)" + re
		}
		m, err := regexp.MatchString(re, name)
		return err == nil && m
	}
	return s.fold(pattern) == s.fold(name)
}

// matchWildcard matches a route pattern with * and ? wildcards.
func (s *Selector) matchWildcard(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(s.fold(pattern), s.fold(name))
	return err == nil && ok
}

// SchemaAllowed reports whether any table of schema may be selected.
func (s *Selector) SchemaAllowed(schema string) bool {
	if systemSchemas[strings.ToLower(schema)] || schema == s.metaSchema {
		return false
	}
	b := s.bal
	if b == nil {
		return true
	}
	if len(b.DoDBs) > 0 {
		found := false
		for _, p := range b.DoDBs {
			found = found || s.matchName(p, schema)
		}
		if !found {
			return false
		}
	}
	for _, p := range b.IgnoreDBs {
		if s.matchName(p, schema) {
			return false
		}
	}
	return true
}

// TableAllowed applies DM's block-allow-list to schema.table: do-dbs,
// ignore-dbs, then do-tables (when any names this schema), then
// ignore-tables.
func (s *Selector) TableAllowed(schema, table string) bool {
	if !s.SchemaAllowed(schema) {
		return false
	}
	b := s.bal
	if b == nil {
		return true
	}
	if len(b.DoTables) > 0 {
		found := false
		for _, t := range b.DoTables {
			found = found || (t != nil && s.matchName(t.Schema, schema) && s.matchName(t.Table, table))
		}
		if !found {
			return false
		}
	}
	for _, t := range b.IgnoreTables {
		if t != nil && s.matchName(t.Schema, schema) && s.matchName(t.Table, table) {
			return false
		}
	}
	return true
}

// Route returns the target schema and table of schema.table: the first
// matching route with a table pattern wins over schema-only routes, as in
// DM; without a match the names stay.
func (s *Selector) Route(schema, table string) (string, string) {
	var schemaOnly *config.RouteRule
	for _, r := range s.routes {
		if r == nil || !s.matchWildcard(r.SchemaPattern, schema) {
			continue
		}
		if r.TablePattern == "" {
			if schemaOnly == nil {
				schemaOnly = r
			}
			continue
		}
		if s.matchWildcard(r.TablePattern, table) {
			ts, tt := r.TargetSchema, r.TargetTable
			if ts == "" {
				ts = schema
			}
			if tt == "" {
				tt = table
			}
			return ts, tt
		}
	}
	if schemaOnly != nil && schemaOnly.TargetSchema != "" {
		return schemaOnly.TargetSchema, table
	}
	return schema, table
}
