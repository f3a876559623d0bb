package binlog

// Kind says what an Event is.
type Kind int

// Event kinds.
const (
	// KindBegin starts a transaction: Start is where a replay of the whole
	// transaction starts, GTID is its GTID (when the source has them).
	KindBegin Kind = iota + 1
	// KindRows carries the row changes of one rows event.
	KindRows
	// KindQuery is a statement other than BEGIN/COMMIT (DDL and the like);
	// it is a transaction of its own.
	KindQuery
	// KindCommit ends a transaction (XID or COMMIT); End is the position
	// after it, where the next transaction starts.
	KindCommit
	// KindHeartbeat says the source is idle (sent about every second).
	KindHeartbeat
)

// Op is the kind of a row change.
type Op int

// Row operations.
const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Rows is one rows event: the changes of one table.
type Rows struct {
	Schema, Table string
	Op            Op
	Columns       []string // column names at this point of the binlog
	// Rows holds the row images; for OpUpdate they come in pairs (before,
	// after).
	Rows [][]any
}

// Event is one binlog event in the reader's terms.
type Event struct {
	Kind Kind
	// Start is where the event begins; for KindBegin and KindQuery it is
	// where a replay of the transaction starts. For KindBegin, Start.GTID
	// is the GTID set executed before the transaction.
	Start Position
	// End is the position right after the event; for KindCommit and
	// KindQuery its GTID is the set including the transaction.
	End       Position
	Timestamp uint32 // the event's header timestamp (source clock, seconds)
	GTID      string // KindBegin: this transaction's GTID
	Schema    string // KindQuery: the default schema
	Query     string // KindQuery
	Rows      *Rows  // KindRows
}
