package units

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm/config"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestLoadDataWarningFails: a value the target cannot hold fails the
// chunk under LOAD DATA LOCAL as under a strict INSERT (error 1406), and
// nothing of the chunk is stored: no truncated value slips through.
func TestLoadDataWarningFails(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	up, down := srv[0], srv[1]
	up.Exec(t, "CREATE DATABASE app_narrow", "CREATE TABLE app_narrow.t (id INT PRIMARY KEY, s VARCHAR(20))",
		"INSERT INTO app_narrow.t VALUES (1, 'ok'), (2, 'much too long')")
	down.Exec(t, "CREATE DATABASE app_narrow", "CREATE TABLE app_narrow.t (id INT PRIMARY KEY, s VARCHAR(4))")
	deps := Deps{Key: config.DefaultKey, Propose: (&recorder{}).propose, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	unit, err := NewFactory(deps)(assignment(t, up, down, "", 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = unit.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "app_narrow.t") || !strings.Contains(err.Error(), "1406") {
		t.Fatalf("a value too long for the target column: %v", err)
	}
	var n int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM app_narrow.t").Scan(&n)
	if n != 0 {
		t.Errorf("%d rows of the failed chunk are on the target", n)
	}
}
