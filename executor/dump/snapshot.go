package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
)

// Position is a binlog position: file/pos and, when known, the GTID set.
type Position struct {
	Name string `json:"name"`
	Pos  uint32 `json:"pos"`
	GTID string `json:"gtid,omitempty"`
}

func (p Position) String() string {
	if p.GTID != "" {
		return fmt.Sprintf("(%s, %d) gtid %s", p.Name, p.Pos, p.GTID)
	}
	return fmt.Sprintf("(%s, %d)", p.Name, p.Pos)
}

// OpenSource connects to an upstream with the reader session settings:
// UTC, results in character set binary (string values arrive as the bytes
// the column stores), plain sql_mode.
func OpenSource(ctx context.Context, from config.DBConfig, key config.Key, conns int) (*sql.DB, error) {
	c, err := target.ConnConfig(from, key, map[string]string{
		"time_zone":             "'+00:00'",
		"character_set_results": "binary",
		"sql_mode":              "''",
	})
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", c.Addr, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(conns + 2)
	db.SetMaxIdleConns(conns + 2)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to source %s as %s: %w", c.Addr, from.User, err)
	}
	return db, nil
}

// Snapshot is n connections reading one consistent snapshot.
type Snapshot struct {
	Conns    []*sql.Conn
	Position Position
	Locked   bool // FLUSH TABLES WITH READ LOCK was used
}

// Close ends the snapshot transactions and returns the connections.
func (s *Snapshot) Close() {
	for _, c := range s.Conns {
		c.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // closing anyway
		c.Close()
	}
}

// OpenSnapshot opens n connections in one consistent snapshot and reads its
// binlog position. With n > 1 it holds FLUSH TABLES WITH READ LOCK while the
// connections start their transactions (milliseconds). Without the RELOAD
// privilege it falls back, on MariaDB, to one connection: START
// TRANSACTION WITH CONSISTENT SNAPSHOT and binlog_snapshot_file/position
// give a consistent position without any lock.
func OpenSnapshot(ctx context.Context, db *sql.DB, n int, flavor string) (*Snapshot, error) {
	return openSnapshot(ctx, db, n, flavor, nil)
}

// openSnapshot is OpenSnapshot that runs pin, when set, on every
// connection once its transaction has started and while no DDL can run
// (before the global read lock is released); an error of pin is returned
// as is.
func openSnapshot(ctx context.Context, db *sql.DB, n int, flavor string, pin func(*sql.Conn) error) (*Snapshot, error) {
	if n < 1 {
		n = 1
	}
	if flavor == "" {
		flavor = DetectFlavor(ctx, db)
	}
	s, err := openLocked(ctx, db, n, flavor, pin)
	if err == nil {
		return s, nil
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || (me.Number != 1227 && me.Number != 1045 && me.Number != 1044) || flavor != config.FlavorMariaDB {
		return nil, err
	}
	return openMariaDBSingle(ctx, db, pin)
}

// DetectFlavor asks the server what it is.
func DetectFlavor(ctx context.Context, db Querier) string {
	var v string
	if db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v) == nil && strings.Contains(strings.ToLower(v), "mariadb") {
		return config.FlavorMariaDB
	}
	return config.FlavorMySQL
}

func startSnapshot(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return err
	}
	_, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT")
	return err
}

func openLocked(ctx context.Context, db *sql.DB, n int, flavor string, pin func(*sql.Conn) error) (_ *Snapshot, err error) {
	lock, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer lock.Close()
	s := &Snapshot{Locked: true}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if _, err := lock.ExecContext(ctx, "SET SESSION lock_wait_timeout = 30"); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if _, err := lock.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return nil, fmt.Errorf("snapshot: FLUSH TABLES WITH READ LOCK: %w", err)
	}
	defer lock.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck // the connection closes anyway
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		s.Conns = append(s.Conns, c)
		if err := startSnapshot(ctx, c); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	if s.Position, err = masterStatus(ctx, lock, flavor); err != nil {
		return nil, err
	}
	if pin != nil {
		for _, c := range s.Conns {
			if err := pin(c); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func openMariaDBSingle(ctx context.Context, db *sql.DB, pin func(*sql.Conn) error) (*Snapshot, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s := &Snapshot{Conns: []*sql.Conn{c}}
	if err := startSnapshot(ctx, c); err != nil {
		s.Close()
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if pin != nil {
		if err := pin(c); err != nil {
			s.Close()
			return nil, err
		}
	}
	rows, err := c.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("snapshot position: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err == nil {
			switch strings.ToLower(k) {
			case "binlog_snapshot_file":
				s.Position.Name = v
			case "binlog_snapshot_position":
				p, _ := strconv.ParseUint(v, 10, 32)
				s.Position.Pos = uint32(p)
			}
		}
	}
	rows.Close()
	if s.Position.Name != "" {
		c.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", s.Position.Name, s.Position.Pos).Scan(&s.Position.GTID) //nolint:errcheck // GTID is optional
	}
	return s, nil
}

// masterStatus reads the binlog position on the connection holding the
// global read lock. A server without a binlog gives an empty position.
func masterStatus(ctx context.Context, c *sql.Conn, flavor string) (Position, error) {
	var p Position
	rows, err := c.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("snapshot: SHOW MASTER STATUS: %w", err)
	}
	cols, _ := rows.Columns()
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return p, fmt.Errorf("snapshot: SHOW MASTER STATUS: %w", err)
		}
		for i, col := range cols {
			switch strings.ToLower(col) {
			case "file":
				p.Name = vals[i].String
			case "position":
				v, _ := strconv.ParseUint(vals[i].String, 10, 32)
				p.Pos = uint32(v)
			case "executed_gtid_set":
				p.GTID = strings.ReplaceAll(vals[i].String, "\n", "")
			}
		}
	}
	rows.Close()
	if p.Name != "" && flavor == config.FlavorMariaDB {
		var g sql.NullString
		if err := c.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.Name, p.Pos).Scan(&g); err == nil {
			p.GTID = g.String
		}
	}
	return p, nil
}
