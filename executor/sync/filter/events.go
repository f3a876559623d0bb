package filter

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/dmraft/dmraft/fsm/config"
)

// Action is the outcome of the event filter.
type Action int

// Actions.
const (
	Do Action = iota
	Ignore
	Error
)

// DML event names.
const (
	EventInsert = "insert"
	EventUpdate = "update"
	EventDelete = "delete"
)

// EventFilter applies DM binlog event filter rules.
type EventFilter struct {
	rules         []*rule
	caseSensitive bool
}

type rule struct {
	*config.EventFilterRule
	sql *regexp.Regexp
}

// NewEventFilter compiles rules (already validated by package config).
func NewEventFilter(rules []*config.EventFilterRule, caseSensitive bool) (*EventFilter, error) {
	f := &EventFilter{caseSensitive: caseSensitive}
	for _, r := range rules {
		if r == nil {
			continue
		}
		cr := &rule{EventFilterRule: r}
		if len(r.SQLPattern) > 0 {
			re, err := regexp.Compile("(?i)" + strings.Join(r.SQLPattern, "|"))
			if err != nil {
				return nil, err
			}
			cr.sql = re
		}
		f.rules = append(f.rules, cr)
	}
	return f, nil
}

func (f *EventFilter) match(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	if !f.caseSensitive {
		pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// Check returns what to do with an event on schema.table (table "" for a
// database-level DDL). events are the event's names, most specific first
// (e.g. "add column", "alter table"); isDDL tells DML from DDL; sql is the
// DDL text (empty for DML). As in DM: a matching Ignore rule whose events
// or sql-pattern match ignores the event, an Error rule stops, and a
// matching Do rule ignores every event it does not list.
func (f *EventFilter) Check(schema, table string, events []string, isDDL bool, sql string) (Action, *config.EventFilterRule) {
	for _, r := range f.rules {
		if !f.match(r.SchemaPattern, schema) {
			continue
		}
		if r.TablePattern != "" && (table == "" || !f.match(r.TablePattern, table)) {
			continue
		}
		hit := eventsMatch(r.Events, events, isDDL) || (r.sql != nil && sql != "" && r.sql.MatchString(sql))
		switch r.Action {
		case config.ActionIgnore:
			if hit {
				return Ignore, r.EventFilterRule
			}
		case config.ActionError:
			if hit {
				return Error, r.EventFilterRule
			}
		case config.ActionDo:
			if !hit {
				return Ignore, r.EventFilterRule
			}
		}
	}
	return Do, nil
}

func eventsMatch(listed, events []string, isDDL bool) bool {
	for _, l := range listed {
		switch l {
		case "all":
			return true
		case "all dml":
			if !isDDL {
				return true
			}
		case "all ddl":
			if isDDL {
				return true
			}
		default:
			if slices.Contains(events, l) {
				return true
			}
		}
	}
	return false
}
