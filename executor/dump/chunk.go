package dump

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Bound is the value of every key column at a chunk boundary; nil means
// the chunk is open on that side.
type Bound [][]byte

// Chunk is the key range (Lower, Upper] of one table.
type Chunk struct {
	Table        *Table
	Index        int
	Lower, Upper Bound
	EstRows      int64
	EstBytes     int64
}

// ID names the chunk in logs.
func (c *Chunk) ID() string { return fmt.Sprintf("%s#%d", c.Table.ID(), c.Index) }

// MarshalBound encodes a bound for the checkpoint table.
func MarshalBound(b Bound) string {
	if b == nil {
		return "null"
	}
	hexes := make([]string, len(b))
	for i, v := range b {
		hexes[i] = hex.EncodeToString(v)
	}
	out, _ := json.Marshal(hexes)
	return string(out)
}

// UnmarshalBound decodes MarshalBound's output.
func UnmarshalBound(s string) (Bound, error) {
	var hexes []string
	if err := json.Unmarshal([]byte(s), &hexes); err != nil {
		return nil, fmt.Errorf("chunk bound %q: %w", s, err)
	}
	if hexes == nil {
		return nil, nil
	}
	b := make(Bound, len(hexes))
	for i, h := range hexes {
		v, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("chunk bound %q: %w", s, err)
		}
		b[i] = v
	}
	return b, nil
}

// Split divides t into chunks of about rows rows each, by its key: a single
// integer key by arithmetic ranges between MIN and MAX (no scan), any other
// key by the values of every rows-th key in key order (one index scan). A
// table without a usable key is one chunk. Bounds do not depend on a
// snapshot: any snapshot's rows fall into exactly one chunk.
func Split(ctx context.Context, db Querier, t *Table, rows int64) ([]*Chunk, error) {
	if rows <= 0 {
		rows = 10000
	}
	single := []*Chunk{{Table: t, EstRows: t.EstRows, EstBytes: t.EstBytes}}
	if len(t.Key) == 0 || t.EstRows <= rows {
		return single, nil
	}
	var bounds []Bound
	var err error
	key := t.KeyColumns()
	if len(key) == 1 && isInteger(key[0]) {
		bounds, err = splitInteger(ctx, db, t, key[0], rows)
	} else {
		bounds, err = splitByScan(ctx, db, t, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("split %s into chunks: %w", t.ID(), err)
	}
	if len(bounds) == 0 {
		return single, nil
	}
	n := int64(len(bounds) + 1)
	chunks := make([]*Chunk, 0, n)
	var lower Bound
	for i := 0; i <= len(bounds); i++ {
		var upper Bound
		if i < len(bounds) {
			upper = bounds[i]
		}
		chunks = append(chunks, &Chunk{Table: t, Index: i, Lower: lower, Upper: upper, EstRows: t.EstRows / n, EstBytes: t.EstBytes / n})
		lower = upper
	}
	return chunks, nil
}

func isInteger(c Column) bool {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return true
	}
	return false
}

func splitInteger(ctx context.Context, db Querier, t *Table, c Column, rows int64) ([]Bound, error) {
	var lo, hi sql.NullString
	q := fmt.Sprintf("SELECT MIN(%[1]s), MAX(%[1]s) FROM %[2]s", quoteIdent(c.Name), quoteTable(t.Schema, t.Name))
	if err := db.QueryRowContext(ctx, q).Scan(&lo, &hi); err != nil {
		return nil, err
	}
	if !lo.Valid || !hi.Valid {
		return nil, nil
	}
	min, ok1 := new(big.Int).SetString(lo.String, 10)
	max, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("key range %q..%q is not integer", lo.String, hi.String)
	}
	n := (t.EstRows + rows - 1) / rows
	span := new(big.Int).Sub(max, min)
	span.Add(span, big.NewInt(1))
	step := new(big.Int).Div(span, big.NewInt(n))
	if step.Sign() <= 0 {
		step.SetInt64(1)
	}
	var bounds []Bound
	for b := new(big.Int).Add(min, step); b.Cmp(max) < 0; b.Add(b, step) {
		v := new(big.Int).Sub(b, big.NewInt(1))
		bounds = append(bounds, Bound{[]byte(v.String())})
	}
	return bounds, nil
}

func splitByScan(ctx context.Context, db Querier, t *Table, rows int64) ([]Bound, error) {
	key := t.KeyColumns()
	names := make([]string, len(key))
	for i, c := range key {
		names[i] = quoteIdent(c.Name)
	}
	cols := strings.Join(names, ", ")
	var bounds []Bound
	var prev Bound
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		where := ""
		if prev != nil {
			where = " WHERE " + afterPredicate(key, prev)
		}
		q := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s LIMIT 1 OFFSET %d", cols, quoteTable(t.Schema, t.Name), where, cols, rows-1)
		b, err := scanBound(ctx, db, q, len(key))
		if err != nil {
			return nil, err
		}
		if b == nil {
			return bounds, nil
		}
		bounds = append(bounds, b)
		prev = b
	}
}

func scanBound(ctx context.Context, db Querier, q string, n int) (Bound, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	raw := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	b := make(Bound, n)
	for i, v := range raw {
		if v == nil {
			return nil, errors.New("NULL in a chunking key")
		}
		b[i] = append([]byte{}, v...)
	}
	return b, rows.Err()
}

// afterPredicate is key > b in key order, expanded so that the optimizer
// uses a range scan: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...
func afterPredicate(key []Column, b Bound) string { return rangePredicate(key, b, ">", ">") }

// upToPredicate is key <= b: (k1 < v1) OR ... OR (k1 = v1 AND ... AND kn <= vn).
func upToPredicate(key []Column, b Bound) string { return rangePredicate(key, b, "<", "<=") }

func rangePredicate(key []Column, b Bound, op, lastOp string) string {
	var ors []string
	for i := range key {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, quoteIdent(key[j].Name)+" = "+string(AppendLiteral(nil, key[j], b[j])))
		}
		o := op
		if i == len(key)-1 {
			o = lastOp
		}
		ands = append(ands, quoteIdent(key[i].Name)+" "+o+" "+string(AppendLiteral(nil, key[i], b[i])))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// Where returns the chunk's WHERE clause ("" for a whole table).
func (c *Chunk) Where() (string, error) {
	key := c.Table.KeyColumns()
	var parts []string
	for _, b := range []Bound{c.Lower, c.Upper} {
		if b == nil {
			continue
		}
		if len(b) != len(key) {
			return "", fmt.Errorf("chunk %s: bound has %d values, key has %d columns (the table's key changed?)", c.ID(), len(b), len(key))
		}
		for i, v := range b {
			if k := kindOf(key[i]); (k == kindNumber || k == kindTemporal) && !safeText(v) {
				return "", fmt.Errorf("chunk %s: bound value %q is not a %s", c.ID(), v, key[i].DataType)
			}
		}
	}
	if c.Lower != nil {
		parts = append(parts, afterPredicate(key, c.Lower))
	}
	if c.Upper != nil {
		parts = append(parts, upToPredicate(key, c.Upper))
	}
	if len(parts) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(parts, " AND "), nil
}

func quoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func quoteTable(schema, table string) string { return quoteIdent(schema) + "." + quoteIdent(table) }
