package dump

import (
	"strings"
	"testing"
)

func TestCreateViewSQL(t *testing.T) {
	route := func(schema, table string) (string, string) {
		if schema == "app" && table == "routed" {
			return "other", "renamed"
		}
		return schema, table
	}
	v := &View{Schema: "app", Name: "v", TargetSchema: "tgt", TargetName: "v2"}
	for _, c := range []struct{ in, want string }{
		{"CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select `app`.`t`.`id` AS `id` from `app`.`t`",
			"CREATE OR REPLACE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `tgt`.`v2` AS select `app`.`t`.`id` AS `id` from `app`.`t`"},
		{"CREATE DEFINER=`o``dd`@`%` VIEW `v` (`a`) AS select 1 AS `a`",
			"CREATE OR REPLACE VIEW `tgt`.`v2` (`a`) AS select 1 AS `a`"},
		{"CREATE ALGORITHM=MERGE DEFINER='x'@'1.2.3.4' SQL SECURITY INVOKER VIEW `v` AS select `r`.`id` AS `id` from (`app`.`routed` `r` join `app`.`t` on(1))",
			"CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW `tgt`.`v2` AS SELECT `r`.`id` AS `id` FROM `other`.`renamed` AS `r` JOIN `app`.`t` ON (1)"},
		{"CREATE VIEW `v` AS select `t`.`a` AS `a` from `t` join `app`.`u`",
			"CREATE OR REPLACE VIEW `tgt`.`v2` AS SELECT `t`.`a` AS `a` FROM `app`.`t` JOIN `app`.`u`"},
	} {
		got, err := CreateViewSQL(c.in, v, route)
		if err != nil || got != c.want {
			t.Errorf("CreateViewSQL(%q):\n got %q (%v)\nwant %q", c.in, got, err, c.want)
		}
	}
	got, err := StripDefiner("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1", "v")
	if err != nil || strings.Contains(got, "DEFINER=") || !strings.HasPrefix(got, "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1") {
		t.Errorf("StripDefiner: %q %v", got, err)
	}
	if _, err := CreateViewSQL("CREATE TABLE t (a int)", v, route); err == nil {
		t.Error("a CREATE TABLE was taken for a view")
	}
}
