package load

import (
	"strings"
	"testing"
)

func TestStripSecondaryKeys(t *testing.T) {
	ddl := "CREATE TABLE IF NOT EXISTS `d`.`t` (\n  `id` int(11) NOT NULL,\n  `k` int(11) NOT NULL,\n  `s` text,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`k`,`id`),\n  KEY `k_1` (`k`),\n  FULLTEXT KEY `ft` (`s`)\n) ENGINE=InnoDB"
	got, removed := StripSecondaryKeys(ddl)
	want := "CREATE TABLE IF NOT EXISTS `d`.`t` (\n  `id` int(11) NOT NULL,\n  `k` int(11) NOT NULL,\n  `s` text,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`k`,`id`)\n) ENGINE=InnoDB"
	if got != want {
		t.Errorf("stripped:\n%s\nwant:\n%s", got, want)
	}
	if removed["k_1"] != "KEY `k_1` (`k`)" || removed["ft"] != "FULLTEXT KEY `ft` (`s`)" || len(removed) != 2 {
		t.Errorf("removed %q", removed)
	}
	fk := strings.Replace(ddl, "FULLTEXT KEY `ft` (`s`)", "CONSTRAINT `f` FOREIGN KEY (`k`) REFERENCES `p` (`id`)", 1)
	if got, removed := StripSecondaryKeys(fk); got != fk || removed != nil {
		t.Errorf("a table with a foreign key lost its indexes: %q", removed)
	}
}
