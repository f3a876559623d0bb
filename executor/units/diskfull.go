package units

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/fsm/config"
)

// targetOutOfSpace reports whether err says the target ran out of space:
// a table full (1114), the disk full (1021), or an OS "no space left"
// (errno 28) in a file write (e.g. 1030, 3, 1878).
func targetOutOfSpace(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	if me.Number == 1114 || me.Number == 1021 {
		return true
	}
	m := strings.ToLower(me.Message)
	return strings.Contains(m, "no space left") || strings.Contains(m, "errno: 28") || strings.Contains(m, "errcode: 28") || strings.Contains(m, "error 28")
}

// targetFull turns a target error that is about space into TargetDiskFull,
// naming the target and the fix; other errors pass unchanged.
func targetFull(task *config.Task, err error) error {
	if err == nil || !targetOutOfSpace(err) {
		return err
	}
	port := task.TargetDatabase.Port
	if port == 0 {
		port = config.DefaultPort
	}
	addr := net.JoinHostPort(task.TargetDatabase.Host, strconv.Itoa(port))
	return &executor.Error{Code: "TargetDiskFull", Class: "target", Message: "the target " + addr + " is out of space", Err: err,
		Workaround: "free disk space on the target " + addr + " (or raise the limit that the error names, e.g. innodb_data_file_path's max or the tmpdir), then `dmctl resume-task " + task.Name +
			"`; the chunk that failed is loaded again and loaded chunks are kept"}
}
