package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// reportHost is the host name our binlog connection registers with, the
// same on every node, so SHOW SLAVE HOSTS tells our own connections (an
// old owner's, about to be replaced) from another replica's.
func reportHost(task, source string) string {
	h := "dmraft/" + task + "/" + source
	if len(h) > 60 {
		h = h[:60]
	}
	return h
}

// replica is one row of SHOW SLAVE HOSTS.
type replica struct {
	serverID uint32
	host     string
}

// checkServerID refuses to start when another replica of the source
// already uses our server id: the source would disconnect one of the two
// whenever the other connects. It returns nil when the source does not let
// us list its replicas (the privilege is optional).
func checkServerID(ctx context.Context, db querier, id uint32, ours, task string) error {
	list, err := replicas(ctx, db)
	if err != nil {
		return nil
	}
	for _, r := range list {
		if r.serverID == id && r.host != ours {
			return sourceError("ServerIDClash", fmt.Sprintf("another replica of the source (host %q) uses server-id %d, the binlog connection's", r.host, id), nil,
				"stop the other replica or change its server_id, then `dmctl resume-task "+task+"`; or give this source another server-id: "+
					"`dmctl stop-task "+task+"`, `dmctl operate-source stop` it, `dmctl operate-source create` with a new server-id in source.yaml, "+
					"and `dmctl start-task` the same task.yaml (replication continues from the target's checkpoint)")
		}
	}
	return nil
}

func replicas(ctx context.Context, db querier) ([]replica, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE HOSTS")
	if err != nil {
		if rows, err = db.QueryContext(ctx, "SHOW REPLICAS"); err != nil { // MySQL 8.4
			return nil, err
		}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []replica
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var r replica
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "server_id":
				n, _ := strconv.ParseUint(vals[i].String, 10, 32)
				r.serverID = uint32(n)
			case "host":
				r.host = vals[i].String
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
