package binlog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Flavors.
const (
	FlavorMySQL   = gmysql.MySQLFlavor
	FlavorMariaDB = gmysql.MariaDBFlavor
)

// Config says where to read from.
type Config struct {
	Flavor   string // FlavorMySQL or FlavorMariaDB
	Host     string
	Port     uint16
	User     string
	Password string
	ServerID uint32 // our replica server id; must be unique among the source's replicas
	// ReportHost is the host name the connection registers with (SHOW
	// SLAVE HOSTS shows it), so that our own earlier connections can be
	// told from another replica that uses the same server id.
	ReportHost string
	TLS        *tls.Config
	// UseGTID starts from Start.GTID instead of Start.Name/Pos. Positions
	// are still tracked as file/offset for ordering.
	UseGTID bool
	Start   Position
}

// Reader streams the events of one binlog connection.
type Reader struct {
	cfg    Config
	syncer *replication.BinlogSyncer
	stream *replication.BinlogStreamer

	file    string
	gset    gmysql.GTIDSet // executed set, nil without GTIDs
	inTxn   bool
	pending []Event // queued output
}

// syncerConfig is go-mysql's configuration for cfg.
func syncerConfig(cfg Config) replication.BinlogSyncerConfig {
	return replication.BinlogSyncerConfig{
		ServerID:                cfg.ServerID,
		Localhost:               cfg.ReportHost,
		Flavor:                  cfg.Flavor,
		Host:                    cfg.Host,
		Port:                    cfg.Port,
		User:                    cfg.User,
		Password:                cfg.Password,
		TLSConfig:               cfg.TLS,
		Charset:                 "utf8mb4",
		ParseTime:               false,
		TimestampStringLocation: time.UTC,
		UseDecimal:              true,
		HeartbeatPeriod:         time.Second,
		ReadTimeout:             10 * time.Second,
		Dialer:                  lazyDeadlineDialer(&net.Dialer{Timeout: 5 * time.Second}),
		DisableRetrySync:        true,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Open connects and starts streaming from cfg.Start. The password is never
// logged: go-mysql's logger is discarded.
func Open(cfg Config) (*Reader, error) {
	sc := syncerConfig(cfg)
	r := &Reader{cfg: cfg, syncer: replication.NewBinlogSyncer(sc), file: cfg.Start.Name}
	var err error
	if cfg.UseGTID {
		if r.gset, err = gmysql.ParseGTIDSet(cfg.Flavor, cfg.Start.GTID); err != nil {
			r.syncer.Close()
			return nil, fmt.Errorf("binlog start gtid %q: %w", cfg.Start.GTID, err)
		}
		r.stream, err = r.syncer.StartSyncGTID(r.gset.Clone())
	} else {
		if cfg.Start.GTID != "" {
			r.gset, _ = gmysql.ParseGTIDSet(cfg.Flavor, cfg.Start.GTID)
		}
		pos := cfg.Start.Pos
		if pos < 4 {
			pos = 4
		}
		r.stream, err = r.syncer.StartSync(gmysql.Position{Name: cfg.Start.Name, Pos: pos})
	}
	if err != nil {
		r.syncer.Close()
		return nil, classify(fmt.Errorf("start binlog stream at %s: %w", cfg.Start, err))
	}
	return r, nil
}

// OpenContext is Open that gives up when ctx ends: connecting to a source
// that does not answer (a partition) must not keep a cancelled unit alive.
// A connection that completes after ctx ended is closed.
func OpenContext(ctx context.Context, cfg Config) (*Reader, error) {
	type opened struct {
		r   *Reader
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		r, err := Open(cfg)
		ch <- opened{r, err}
	}()
	select {
	case o := <-ch:
		return o.r, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.r != nil {
				o.r.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Close ends the connection without waiting. go-mysql's Close dials the
// source once more to KILL the dump thread; when the source is unreachable
// (a partition, a dead server) that dial blocks until it times out, and the
// sync unit must not outlive its runner's cancellation by that long: it is
// fenced at once. The reading side is cut at once by a read deadline, and a
// new owner replaces a lingering dump thread anyway (same server id).
func (r *Reader) Close() { go r.syncer.Close() }

// Next returns the next event, waiting for one until ctx ends.
func (r *Reader) Next(ctx context.Context) (Event, error) {
	for len(r.pending) == 0 {
		ev, err := r.stream.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return Event{}, ctx.Err()
			}
			return Event{}, classify(fmt.Errorf("read binlog after (%s, ...): %w", r.file, err))
		}
		if err := r.convert(ev); err != nil {
			return Event{}, err
		}
	}
	e := r.pending[0]
	r.pending = r.pending[1:]
	return e, nil
}

func (r *Reader) gtidString() string {
	if r.gset == nil {
		return ""
	}
	return r.gset.String()
}

func (r *Reader) convert(ev *replication.BinlogEvent) error {
	h := ev.Header
	end := Position{Name: r.file, Pos: h.LogPos}
	start := Position{Name: r.file, Pos: h.LogPos - h.EventSize}
	if h.LogPos == 0 { // artificial events (fake rotate, heartbeats)
		start.Pos, end.Pos = 0, 0
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		r.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		start.GTID = r.gtidString()
		if r.gset != nil {
			if err := r.gset.Update(e.GTID.String()); err != nil {
				return fmt.Errorf("binlog gtid %s: %w", e.GTID.String(), err)
			}
		}
		r.begin(Event{Kind: KindBegin, Start: start, End: end, Timestamp: h.Timestamp, GTID: e.GTID.String()})
	case *replication.GTIDEvent:
		start.GTID = r.gtidString()
		gtid := ""
		if next, err := e.GTIDNext(); err == nil && next != nil && len(e.SID) == 16 && e.GNO > 0 {
			gtid = next.String()
			if r.gset != nil {
				if err := r.gset.Update(gtid); err != nil {
					return fmt.Errorf("binlog gtid %s: %w", gtid, err)
				}
			}
		}
		r.begin(Event{Kind: KindBegin, Start: start, End: end, Timestamp: h.Timestamp, GTID: gtid})
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			if !r.inTxn {
				start.GTID = r.gtidString()
				r.begin(Event{Kind: KindBegin, Start: start, End: end, Timestamp: h.Timestamp})
			}
		case strings.EqualFold(q, "COMMIT"):
			end.GTID = r.gtidString()
			r.commit(Event{Kind: KindCommit, Start: start, End: end, Timestamp: h.Timestamp})
		default:
			if !r.inTxn {
				start.GTID = r.gtidString()
				r.begin(Event{Kind: KindBegin, Start: start, End: end, Timestamp: h.Timestamp})
			}
			end.GTID = r.gtidString()
			r.pending = append(r.pending, Event{Kind: KindQuery, Start: start, End: end, Timestamp: h.Timestamp,
				Schema: string(e.Schema), Query: q})
			r.inTxn = false
		}
	case *replication.XIDEvent:
		end.GTID = r.gtidString()
		r.commit(Event{Kind: KindCommit, Start: start, End: end, Timestamp: h.Timestamp})
	case *replication.RowsEvent:
		return r.rows(h, e, start, end)
	default:
		if h.EventType == replication.HEARTBEAT_EVENT || h.EventType == replication.HEARTBEAT_LOG_EVENT_V2 {
			r.pending = append(r.pending, Event{Kind: KindHeartbeat, Timestamp: h.Timestamp})
		}
	}
	return nil
}

func (r *Reader) begin(e Event) {
	r.inTxn = true
	r.pending = append(r.pending, e)
}

func (r *Reader) commit(e Event) {
	r.inTxn = false
	r.pending = append(r.pending, e)
}

func (r *Reader) rows(h *replication.EventHeader, e *replication.RowsEvent, start, end Position) error {
	var op Op
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = OpInsert
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		op = OpUpdate
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = OpDelete
	default:
		return nil
	}
	t := e.Table
	names := t.ColumnNameString()
	if len(names) != int(t.ColumnCount) {
		return fmt.Errorf("%w: table %s.%s at %s", ErrNoColumnNames, t.Schema, t.Table, start)
	}
	if len(e.SkippedColumns) > 0 {
		for _, s := range e.SkippedColumns {
			if len(s) > 0 {
				return fmt.Errorf("%w: table %s.%s at %s", ErrNotFullImage, t.Schema, t.Table, start)
			}
		}
	}
	if !r.inTxn { // a rows event outside BEGIN..COMMIT (non-transactional engine without GTID)
		start.GTID = r.gtidString()
		r.begin(Event{Kind: KindBegin, Start: start, End: start, Timestamp: h.Timestamp})
	}
	r.pending = append(r.pending, Event{Kind: KindRows, Start: start, End: end, Timestamp: h.Timestamp,
		Rows: &Rows{Schema: string(t.Schema), Table: string(t.Table), Op: op, Columns: names, Rows: e.Rows}})
	return nil
}

// Sentinel errors of the reader.
var (
	// ErrNoColumnNames means the TableMapEvent carries no column names:
	// the source writes binlog_row_metadata=MINIMAL.
	ErrNoColumnNames = errors.New("the binlog has no column names (binlog_row_metadata is not FULL)")
	// ErrNotFullImage means a row image lacks columns (binlog_row_image is
	// not FULL).
	ErrNotFullImage = errors.New("the binlog row image is not FULL")
	// ErrPurged means the start position is no longer on the source.
	ErrPurged = errors.New("the binlog position to resume from was purged from the source")
	// ErrServerIDClash means another replica uses our server id.
	ErrServerIDClash = errors.New("another replica of the source uses the same server-id")
)

// classify maps server errors of the dump protocol to the sentinels.
func classify(err error) error {
	var me *gmysql.MyError
	if errors.As(err, &me) {
		switch {
		case me.Code == 1236 && (strings.Contains(me.Message, "purged") || strings.Contains(me.Message, "Could not find first log") ||
			strings.Contains(me.Message, "could not find") || strings.Contains(me.Message, "not find")):
			return fmt.Errorf("%w: %w", ErrPurged, err)
		case me.Code == 1236 && strings.Contains(strings.ToLower(me.Message), "same server"):
			return fmt.Errorf("%w: %w", ErrServerIDClash, err)
		}
	}
	msg := err.Error()
	if strings.Contains(msg, "same server_uuid/server_id") || strings.Contains(msg, "same server_id") {
		return fmt.Errorf("%w: %w", ErrServerIDClash, err)
	}
	return err
}
