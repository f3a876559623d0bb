package target

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Meta table names inside the meta schema.
const (
	EpochTable  = "dmraft_epochs"
	PlanTable   = "dmraft_load_plans"
	ChunkTable  = "dmraft_load_chunks"
	IndexTable  = "dmraft_deferred_indexes"
	maxIdentLen = 64
)

// Meta is the meta schema of one task on the target.
type Meta struct {
	Schema string
	// Exclusive makes the writers' epoch read take an exclusive lock (FOR
	// UPDATE) instead of a shared one, for targets without shared row
	// locks (TiDB refuses LOCK IN SHARE MODE). It is as safe, but writers
	// of one source then commit one after another.
	Exclusive bool
}

// ForServer returns m set up for the target db: Exclusive on TiDB.
func (m Meta) ForServer(ctx context.Context, db *sql.DB) Meta {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err == nil && strings.Contains(version, "TiDB") {
		m.Exclusive = true
	}
	return m
}

// Table returns the quoted name of a meta table.
func (m Meta) Table(name string) string { return QuoteTable(m.Schema, name) }

// Ensure creates the meta schema and tables when they are missing.
func (m Meta) Ensure(ctx context.Context, db *sql.DB) error {
	if m.Schema == "" || len(m.Schema) > maxIdentLen {
		return fmt.Errorf("meta schema %q: a schema name of 1 to 64 characters is needed", m.Schema)
	}
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS " + QuoteIdent(m.Schema),
		"CREATE TABLE IF NOT EXISTS " + m.Table(EpochTable) + ` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  incarnation BIGINT NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (task, source)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		"CREATE TABLE IF NOT EXISTS " + m.Table(PlanTable) + ` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  task_created BIGINT NOT NULL,
  first_position TEXT NOT NULL,
  last_position TEXT NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (task, source)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		"CREATE TABLE IF NOT EXISTS " + m.Table(IndexTable) + ` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  target_schema VARCHAR(64) NOT NULL,
  target_table VARCHAR(64) NOT NULL,
  index_name VARCHAR(64) NOT NULL,
  definition TEXT NOT NULL,
  PRIMARY KEY (task, source, target_schema, target_table, index_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		"CREATE TABLE IF NOT EXISTS " + m.Table(ChunkTable) + ` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  tbl VARCHAR(400) NOT NULL,
  chunk INT NOT NULL,
  target_table VARCHAR(400) NOT NULL,
  lower_bound LONGTEXT NOT NULL,
  upper_bound LONGTEXT NOT NULL,
  est_rows BIGINT NOT NULL DEFAULT 0,
  est_bytes BIGINT NOT NULL DEFAULT 0,
  done TINYINT NOT NULL DEFAULT 0,
  epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
  row_count BIGINT NOT NULL DEFAULT 0,
  byte_count BIGINT NOT NULL DEFAULT 0,
  snapshot_position TEXT NULL,
  finished_at TIMESTAMP(3) NULL,
  PRIMARY KEY (task, source, tbl, chunk)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create meta schema %s: %w", m.Schema, err)
		}
	}
	return nil
}
