package target

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/fsm/config"
)

// SQLMode is the session sql_mode of every writer: strict (a value the
// target cannot hold is an error, not a silent truncation), but zero and
// invalid dates are allowed because the source held them, and an explicit
// 0 in an AUTO_INCREMENT column stays 0.
const SQLMode = "STRICT_TRANS_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

// WriterWaitTimeout is the session wait_timeout of writer connections: the
// server drops a connection whose client stayed silent this long (a paused
// old owner), rolling back its transaction and releasing its epoch lock.
const WriterWaitTimeout = 30 * time.Second

// ConnConfig builds a go-sql-driver config for db with the password
// decrypted with key. params are extra session variables.
func ConnConfig(db config.DBConfig, key config.Key, params map[string]string) (*mysql.Config, error) {
	pw, err := db.PlainPassword(key)
	if err != nil {
		return nil, fmt.Errorf("decrypt the password of %s@%s: %w", db.User, db.Host, err)
	}
	port := db.Port
	if port == 0 {
		port = config.DefaultPort
	}
	c := mysql.NewConfig()
	c.User, c.Passwd = db.User, pw
	c.Net, c.Addr = "tcp", net.JoinHostPort(db.Host, strconv.Itoa(port))
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 10*time.Second, 10*time.Minute, 10*time.Minute
	c.MaxAllowedPacket = 0 // ask the server
	c.Params = map[string]string{}
	for k, v := range db.Session {
		c.Params[k] = quoteValue(v)
	}
	for k, v := range params {
		c.Params[k] = v
	}
	if db.Security != nil && db.Security.SSLCA != "" {
		c.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // CA pinning is left to the TLS issue
	}
	return c, nil
}

func quoteValue(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return "'" + v + "'"
}

// Open connects to the task's target database with poolSize connections
// and the writer session settings (UTC, SQLMode, no foreign key checks,
// a short wait_timeout). It pings once, so a wrong password or an
// unreachable host fails here with a message naming the fix.
func Open(ctx context.Context, db config.DBConfig, key config.Key, poolSize int) (*sql.DB, error) {
	c, err := ConnConfig(db, key, map[string]string{
		"time_zone":          "'+00:00'",
		"sql_mode":           "'" + SQLMode + "'",
		"foreign_key_checks": "0",
		"wait_timeout":       strconv.Itoa(int(WriterWaitTimeout.Seconds())),
	})
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", c.Addr, err)
	}
	d := sql.OpenDB(conn)
	d.SetMaxOpenConns(poolSize + 2)
	d.SetMaxIdleConns(poolSize + 2)
	d.SetConnMaxIdleTime(WriterWaitTimeout / 2)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("connect to target %s as %s: %w", c.Addr, db.User, err)
	}
	return d, nil
}

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(name string) string {
	out := make([]byte, 0, len(name)+2)
	out = append(out, '`')
	for i := 0; i < len(name); i++ {
		if name[i] == '`' {
			out = append(out, '`')
		}
		out = append(out, name[i])
	}
	return string(append(out, '`'))
}

// QuoteTable quotes schema.table.
func QuoteTable(schema, table string) string { return QuoteIdent(schema) + "." + QuoteIdent(table) }
