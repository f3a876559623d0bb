package shardlock

import (
	"slices"
	"strconv"
	"strings"
)

// colType is a canonical type string taken apart (see canonicalType).
type colType struct {
	base     string
	args     []string // inside the parentheses, split at commas outside quotes
	unsigned bool
}

func parseType(s string) colType {
	t := colType{}
	if rest, found := strings.CutSuffix(s, " unsigned"); found {
		s, t.unsigned = rest, true
	}
	open := strings.IndexByte(s, '(')
	if open < 0 {
		t.base = s
		return t
	}
	t.base = s[:open]
	inner := strings.TrimSuffix(s[open+1:], ")")
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(inner); i++ {
		ch := inner[i]
		switch {
		case ch == '\'':
			quoted = !quoted
		case ch == ',' && !quoted:
			t.args = append(t.args, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(ch)
	}
	t.args = append(t.args, cur.String())
	return t
}

func (t colType) arg(i int) int {
	if i >= len(t.args) {
		return 0
	}
	n, _ := strconv.Atoi(t.args[i])
	return n
}

var (
	intRank  = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}
	textCap  = map[string]int{"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295}
	blobCap  = map[string]int{"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295}
	charLike = map[string]bool{"char": true, "varchar": true}
	binLike  = map[string]bool{"binary": true, "varbinary": true}
)

// widens reports whether every value of type from fits type to, so the
// target may hold to for shards that still have from.
func widens(from, to string) bool {
	if from == to {
		return true
	}
	a, b := parseType(from), parseType(to)
	switch {
	case intRank[a.base] > 0 && intRank[b.base] > 0:
		if a.unsigned == b.unsigned {
			return intRank[a.base] <= intRank[b.base]
		}
		return a.unsigned && !b.unsigned && intRank[a.base] < intRank[b.base]
	case a.base == "decimal" && b.base == "decimal":
		return (!b.unsigned || a.unsigned) && b.arg(1) >= a.arg(1) && b.arg(0)-b.arg(1) >= a.arg(0)-a.arg(1)
	case a.base == "float" && b.base == "double":
		return !b.unsigned || a.unsigned
	case charLike[a.base] && charLike[b.base]:
		// char -> varchar keeps values; varchar -> char would pad them.
		return b.arg(0) >= a.arg(0) && !(a.base == "varchar" && b.base == "char")
	case binLike[a.base] && binLike[b.base]:
		return b.arg(0) >= a.arg(0) && !(a.base == "varbinary" && b.base == "binary")
	case charLike[a.base] && textCap[b.base] > 0:
		return a.arg(0) <= textCap[b.base]/4 // 4 bytes a character at most
	case textCap[a.base] > 0 && textCap[b.base] > 0:
		return textCap[a.base] <= textCap[b.base]
	case binLike[a.base] && blobCap[b.base] > 0:
		return a.arg(0) <= blobCap[b.base]
	case blobCap[a.base] > 0 && blobCap[b.base] > 0:
		return blobCap[a.base] <= blobCap[b.base]
	case (a.base == "enum" || a.base == "set") && a.base == b.base:
		// Members may be appended, never removed or reordered.
		return len(b.args) >= len(a.args) && slices.Equal(a.args, b.args[:len(a.args)])
	case a.base == b.base && (a.base == "datetime" || a.base == "timestamp" || a.base == "time" || a.base == "bit"):
		return a.arg(0) <= b.arg(0)
	}
	return false
}

// widest returns the type that holds the values of both, if one of them does.
func widest(a, b string) (string, bool) {
	switch {
	case widens(a, b):
		return b, true
	case widens(b, a):
		return a, true
	}
	return "", false
}
