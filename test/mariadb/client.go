package mariadb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Config returns a go-sql-driver config for root over TCP, with database db
// ("" for none). Change User/Passwd to User/Password for the dmraft user.
func (s *Server) Config(db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = RootUser
	cfg.Passwd = RootPassword
	cfg.Net = "tcp"
	cfg.Addr = s.Addr()
	cfg.DBName = db
	cfg.Timeout = 10 * time.Second
	return cfg
}

// DSN is Config(db) in go-sql-driver DSN form, e.g.
// "root:dmraft@tcp(127.0.0.1:41234)/db?timeout=10s".
func (s *Server) DSN(db string) string { return s.Config(db).FormatDSN() }

// SourceYAML is a DM-format source.yaml for dmraft that reads this server
// as source id, as User, with GTID.
func (s *Server) SourceYAML(id string) string {
	return fmt.Sprintf("source-id: %s\nflavor: mariadb\nenable-gtid: true\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
		id, s.Port, User, Password)
}

// Open returns a pool connected as root to database db ("" for none).
func (s *Server) Open(db string) (*sql.DB, error) {
	c, err := mysql.NewConnector(s.Config(db))
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// ExecSQL runs the statements one by one on a single root connection, so
// USE and session variables carry over between them.
func (s *Server) ExecSQL(ctx context.Context, stmts ...string) error {
	db, err := s.Open("")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mariadb %s: %w", s.Name, err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadb %s: %s: %w", s.Name, q, err)
		}
	}
	return nil
}
