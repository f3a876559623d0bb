package syncer

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
)

// transient reports whether err is worth retrying after a pause: lost
// connections (source or target restarting), lock waits and deadlocks.
func transient(err error) bool {
	if err == nil || errors.Is(err, target.ErrFenced) || errors.Is(err, context.Canceled) {
		return false
	}
	var ee *executor.Error
	if errors.As(err, &ee) {
		return false
	}
	if errors.Is(err, binlog.ErrPurged) || errors.Is(err, binlog.ErrNoColumnNames) || errors.Is(err, binlog.ErrNotFullImage) {
		return false
	}
	if fsm.HasCode(err, fsm.CodeShardInfoChanged) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1205, 1213, 1317, 1927, 2006, 2013, 1158, 1159, 1160, 1161:
			return true
		}
	}
	// go-mysql wraps its connection errors without the standard types.
	msg := err.Error()
	for _, s := range []string{"connection refused", "broken pipe", "connection reset", "EOF", "i/o timeout", "invalid connection", "bad connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// mysqlCode returns the server error number of err (from either client
// library), or 0.
func mysqlCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	var ge *gmysql.MyError
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// replayTolerated are the errors of a DDL that may already have run.
var replayTolerated = map[uint16]bool{
	1007: true, // database exists
	1008: true, // can't drop database; it doesn't exist
	1050: true, // table exists
	1051: true, // unknown table
	1054: true, // unknown column
	1060: true, // duplicate column
	1061: true, // duplicate key name
	1068: true, // multiple primary key
	1091: true, // can't drop; check that it exists
	1146: true, // table doesn't exist
	1176: true, // key doesn't exist
	1826: true, // duplicate foreign key
}

func sourceError(code, msg string, err error, workaround string) error {
	return &executor.Error{Code: code, Class: "source", Message: msg, Err: err, Workaround: workaround}
}

func targetError(code, msg string, err error, workaround string) error {
	return &executor.Error{Code: code, Class: "target", Message: msg, Err: err, Workaround: workaround}
}

// binlogError explains the reader's fatal errors.
func binlogError(task string, err error) error {
	switch {
	case errors.Is(err, binlog.ErrPurged):
		return sourceError("BinlogPurged", "read the binlog", err,
			"the source no longer has the binlog the task must resume from: raise expire_logs_days/binlog_expire_logs_seconds, then restart the task with a fresh full copy (`dmctl stop-task "+task+"` and start it with task-mode all)")
	case errors.Is(err, binlog.ErrNoColumnNames):
		return sourceError("BinlogRowMetadata", "read the binlog", err,
			"set binlog_row_metadata=FULL on the source (MySQL 8.0.1+, MariaDB 10.5+; SET GLOBAL binlog_row_metadata=FULL and in my.cnf), then `dmctl resume-task "+task+"`; events written before the change cannot be replicated")
	case errors.Is(err, binlog.ErrNotFullImage):
		return sourceError("BinlogRowImage", "read the binlog", err,
			"set binlog_row_image=FULL on the source (SET GLOBAL and my.cnf); changes already written with a smaller image cannot be replayed exactly, so restart the task with a fresh full copy (`dmctl stop-task "+task+"`, clear the target, start it with task-mode all)")
	case errors.Is(err, binlog.ErrServerIDClash):
		return sourceError("ServerIDClash", "read the binlog", err,
			"set a server-id in source.yaml that no other replica of the source uses, then `dmctl resume-task "+task+"`")
	}
	return err
}

// sourceLoginError explains a source that refuses our user (a password
// changed while the task ran); other connection errors pass through.
func sourceLoginError(task, source, user string, err error) error {
	if code := mysqlCode(err); code != 1045 && code != 1044 {
		return err
	}
	return sourceError("SourceAccessDenied", "the source refused user "+user, err,
		"restore that user's password or grants on the source, then `dmctl resume-task "+task+"`; or give dmraft the new password: "+
			"`dmctl stop-task "+task+"`, `dmctl operate-source stop "+source+"`, `dmctl operate-source create` with the new password in source.yaml, "+
			"and `dmctl start-task` the same task.yaml (replication continues from the target's checkpoint)")
}
