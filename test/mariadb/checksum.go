package mariadb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// RowChecksum returns the number of rows of schema.table and a digest of
// their contents that depends neither on the physical row order nor on the
// column order: each row is hashed (columns by name, NULL distinct from the
// empty string), and the row hashes are added up lane-wise, so duplicate
// rows count.
// It works on any MySQL-compatible server reached through db, so source and
// target can be compared even when engines or layouts differ. Values are
// compared in their text-protocol form: same column types give same text.
func RowChecksum(ctx context.Context, db *sql.DB, schema, table string) (int64, string, error) {
	q := "SELECT * FROM " + QuoteIdent(schema) + "." + QuoteIdent(table)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, "", fmt.Errorf("checksum %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, "", err
	}
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return cols[order[a]] < cols[order[b]] })

	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	var acc [4]uint64
	var buf [8]byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, "", err
		}
		h := sha256.New()
		for _, i := range order {
			binary.LittleEndian.PutUint64(buf[:], uint64(len(cols[i])))
			h.Write(buf[:])
			h.Write([]byte(cols[i]))
			if !vals[i].Valid {
				h.Write([]byte{0})
				continue
			}
			h.Write([]byte{1})
			binary.LittleEndian.PutUint64(buf[:], uint64(len(vals[i].String)))
			h.Write(buf[:])
			h.Write([]byte(vals[i].String))
		}
		sum := h.Sum(nil)
		for l := range acc {
			acc[l] += binary.LittleEndian.Uint64(sum[8*l:])
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	out := make([]byte, 32)
	for l := range acc {
		binary.LittleEndian.PutUint64(out[8*l:], acc[l])
	}
	return n, hex.EncodeToString(out), nil
}

// ChecksumTable returns the server's CHECKSUM TABLE ... EXTENDED value. It
// only matches between servers with the same engine, row format and column
// layout; RowChecksum is the portable comparison.
func ChecksumTable(ctx context.Context, db *sql.DB, schema, table string) (int64, error) {
	var name string
	var sum sql.NullInt64
	q := "CHECKSUM TABLE " + QuoteIdent(schema) + "." + QuoteIdent(table) + " EXTENDED"
	if err := db.QueryRowContext(ctx, q).Scan(&name, &sum); err != nil {
		return 0, fmt.Errorf("checksum table %s.%s: %w", schema, table, err)
	}
	if !sum.Valid {
		return 0, fmt.Errorf("checksum table %s.%s: table does not exist", schema, table)
	}
	return sum.Int64, nil
}
