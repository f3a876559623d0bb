package full

import (
	"fmt"

	"github.com/dmraft/dmraft/test/mariadb"
)

// TaskYAML is a task-mode full task named name, for source src1 into the
// target server at targetPort, over the tables of this package: the
// databases matching ~^app are copied, app.secret is filtered out and
// app.routed is routed to other.renamed. mydumper and loader are the bodies
// of its md and ld configs (e.g. "threads: 2, rows: 1000" and
// "pool-size: 3"); extra is appended to the YAML.
func TaskYAML(name string, targetPort int, mydumper, loader, extra string) string {
	return fmt.Sprintf(`name: %s
task-mode: full
target-database:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
mysql-instances:
  - source-id: src1
    block-allow-list: bal
    route-rules: [r1]
    mydumper-config-name: md
    loader-config-name: ld
block-allow-list:
  bal:
    do-dbs: ["~^app"]
    ignore-tables: [{db-name: app, tbl-name: secret}]
routes:
  r1: {schema-pattern: app, table-pattern: routed, target-schema: other, target-table: renamed}
mydumpers:
  md: {%s}
loaders:
  ld: {%s}
%s`, name, targetPort, mariadb.User, mariadb.Password, mydumper, loader, extra)
}
