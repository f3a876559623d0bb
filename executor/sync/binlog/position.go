package binlog

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a place in the binlog: file and offset, and the GTID set
// executed before it when the source uses GTIDs.
type Position struct {
	Name string `json:"name"`
	Pos  uint32 `json:"pos"`
	GTID string `json:"gtid,omitempty"`
}

// IsZero reports whether p names no file.
func (p Position) IsZero() bool { return p.Name == "" }

func (p Position) String() string {
	if p.GTID != "" {
		return fmt.Sprintf("(%s, %d) gtid %s", p.Name, p.Pos, p.GTID)
	}
	return fmt.Sprintf("(%s, %d)", p.Name, p.Pos)
}

// Compare orders positions by file sequence number (the numeric suffix of
// the file name, e.g. mysql-bin.000012), then by offset. The GTID set is not
// compared. It returns -1, 0 or 1.
func (p Position) Compare(q Position) int {
	if c := compareFiles(p.Name, q.Name); c != 0 {
		return c
	}
	switch {
	case p.Pos < q.Pos:
		return -1
	case p.Pos > q.Pos:
		return 1
	}
	return 0
}

// Before reports p < q.
func (p Position) Before(q Position) bool { return p.Compare(q) < 0 }

func compareFiles(a, b string) int {
	if a == b {
		return 0
	}
	ba, sa := splitFile(a)
	bb, sb := splitFile(b)
	if ba == bb && sa >= 0 && sb >= 0 {
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
	}
	return strings.Compare(a, b)
}

// splitFile splits "mysql-bin.000012" into "mysql-bin" and 12; seq is -1
// when the name has no numeric suffix.
func splitFile(name string) (base string, seq int64) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, -1
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	if err != nil {
		return name, -1
	}
	return name[:i], n
}
