package dump

import (
	"encoding/hex"
	"strings"
)

// Value kinds decide how a value read in text form (character set binary,
// time zone UTC) is written back as a literal that the target converts to
// exactly the same stored value.
type kind int

const (
	kindNumber   kind = iota // integers, DECIMAL, FLOAT, DOUBLE, YEAR: the server's text form
	kindBits                 // BIT: its bytes as a hex literal
	kindBinary               // BINARY, VARBINARY, BLOBs, strings in charset binary: hex
	kindString               // CHAR, VARCHAR, TEXT, ENUM, SET, JSON: _charset X'bytes'
	kindTemporal             // DATE, DATETIME, TIMESTAMP, TIME: quoted text (zero dates kept)
	kindOther                // spatial and unknown types: hex of the internal form
)

func kindOf(c Column) kind {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
		"float", "double", "real", "year":
		return kindNumber
	case "bit":
		return kindBits
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return kindBinary
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json":
		if c.Charset == "" || c.Charset == "binary" {
			return kindBinary
		}
		return kindString
	case "date", "datetime", "timestamp", "time":
		return kindTemporal
	}
	return kindOther
}

// AppendLiteral appends v (nil: NULL) as a SQL literal for column c.
func AppendLiteral(buf []byte, c Column, v []byte) []byte {
	if v == nil {
		return append(buf, "NULL"...)
	}
	switch kindOf(c) {
	case kindNumber:
		return append(buf, v...)
	case kindTemporal:
		buf = append(buf, '\'')
		buf = append(buf, v...) // digits, '-', ':', '.', ' ' only
		return append(buf, '\'')
	case kindString:
		buf = append(buf, '_')
		buf = append(buf, c.Charset...)
		if quotable[c.Charset] {
			return appendQuoted(buf, v)
		}
		buf = append(buf, ' ')
	}
	buf = append(buf, "X'"...)
	n := len(buf)
	buf = append(buf, make([]byte, hex.EncodedLen(len(v)))...)
	hex.Encode(buf[n:], v)
	return append(buf, '\'')
}

// quotable are the character sets in which a backslash or quote byte is
// never part of a multi-byte character, so a quoted literal with escapes is
// exact (and half the size of hex); others (gbk, sjis, big5, ...) use hex.
var quotable = map[string]bool{"utf8mb4": true, "utf8mb3": true, "utf8": true, "latin1": true, "ascii": true}

// appendQuoted appends 'v' with NUL, quote, backslash, CR, LF and ^Z
// escaped (the writer sessions never set NO_BACKSLASH_ESCAPES). Runs of
// bytes that need no escape are copied at once.
func appendQuoted(buf []byte, v []byte) []byte {
	buf = append(buf, '\'')
	buf = appendEscaped(buf, v, &quoteEscape)
	return append(buf, '\'')
}

// appendEscaped appends v with every byte b that has a letter esc[b]
// written as a backslash and that letter; runs of bytes that need no
// escape are copied at once.
func appendEscaped(buf []byte, v []byte, esc *[256]byte) []byte {
	start := 0
	for i, b := range v {
		e := esc[b]
		if e == 0 {
			continue
		}
		buf = append(buf, v[start:i]...)
		buf = append(buf, '\\', e)
		start = i + 1
	}
	return append(buf, v[start:]...)
}

// quoteEscape maps a byte to the letter that follows the backslash in its
// escape, or 0 when the byte is written as is.
var quoteEscape = [256]byte{0: '0', '\'': '\'', '\\': '\\', '\n': 'n', '\r': 'r', 0x1a: 'Z'}

// safeText reports whether a number or temporal text can be embedded as is
// (it always can when it comes from the server; this guards bounds read
// back from the meta table).
func safeText(v []byte) bool {
	for _, b := range v {
		if !strings.ContainsRune("0123456789+-.:eE ", rune(b)) {
			return false
		}
	}
	return true
}
