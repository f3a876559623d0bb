package dml

import (
	"fmt"
	"math"
	"strconv"

	"github.com/shopspring/decimal"
)

// AppendValue appends v as an SQL literal for column c. Character values
// get the column's character set as introducer, so the bytes are taken as
// they are (no conversion) and comparisons use the column's collation (and
// its index). Floats are written as the exact double value, which compares
// equal to the stored FLOAT or DOUBLE and converts back to the same value.
func AppendValue(buf []byte, c *Column, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "NULL"...)
	case int8:
		return strconv.AppendInt(buf, int64(x), 10)
	case int16:
		return strconv.AppendInt(buf, int64(x), 10)
	case int32:
		return strconv.AppendInt(buf, int64(x), 10)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(buf, x, 10)
	case float32:
		return appendFloat(buf, float64(x))
	case float64:
		return appendFloat(buf, x)
	case decimal.Decimal:
		return append(buf, x.String()...)
	case string:
		return appendString(buf, c, []byte(x))
	case []byte:
		return appendString(buf, c, x)
	default:
		return appendString(buf, c, fmt.Append(nil, x))
	}
}

func appendFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "NULL"...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, 64)
}

func appendString(buf []byte, c *Column, b []byte) []byte {
	if c != nil && c.Charset != "" {
		buf = append(buf, '_')
		buf = append(buf, c.Charset...)
	}
	buf = append(buf, '\'')
	buf = appendEscaped(buf, b)
	return append(buf, '\'')
}

// appendEscaped escapes like mysql_real_escape_string (the target session
// does not set NO_BACKSLASH_ESCAPES).
func appendEscaped(buf, b []byte) []byte {
	for _, ch := range b {
		switch ch {
		case 0:
			buf = append(buf, '\\', '0')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\x1a':
			buf = append(buf, '\\', 'Z')
		case '\'':
			buf = append(buf, '\\', '\'')
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		default:
			buf = append(buf, ch)
		}
	}
	return buf
}
