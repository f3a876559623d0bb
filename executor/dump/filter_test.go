package dump

import (
	"testing"

	"github.com/dmraft/dmraft/fsm/config"
)

func TestSelector(t *testing.T) {
	task := &config.Task{MetaSchema: "dm_meta"}
	inst := &config.Instance{
		BlockAllowList: &config.BlockAllowList{
			DoDBs:        []string{"~^shop", "app"},
			IgnoreTables: []*config.TableRef{{Schema: "app", Table: "~^tmp_"}},
		},
		Routes: []*config.RouteRule{
			{SchemaPattern: "shop_*", TablePattern: "orders_*", TargetSchema: "shop", TargetTable: "orders"},
			{SchemaPattern: "shop_*", TargetSchema: "shop"},
		},
	}
	s := NewSelector(task, inst)
	for _, c := range []struct {
		schema, table string
		want          bool
	}{
		{"app", "users", true}, {"App", "users", true}, {"app", "tmp_x", false}, {"shop_1", "orders_7", true},
		{"other", "t", false}, {"mysql", "user", false}, {"dm_meta", "x", false},
	} {
		if got := s.TableAllowed(c.schema, c.table); got != c.want {
			t.Errorf("TableAllowed(%s.%s) = %v, want %v", c.schema, c.table, got, c.want)
		}
	}
	for _, c := range []struct{ schema, table, ts, tt string }{
		{"shop_1", "orders_7", "shop", "orders"}, {"shop_1", "items", "shop", "items"}, {"app", "users", "app", "users"},
	} {
		if ts, tt := s.Route(c.schema, c.table); ts != c.ts || tt != c.tt {
			t.Errorf("Route(%s.%s) = %s.%s, want %s.%s", c.schema, c.table, ts, tt, c.ts, c.tt)
		}
	}
}
