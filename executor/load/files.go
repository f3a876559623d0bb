package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dmraft/dmraft/executor/dump"
)

// ErrDumpDirMissing means the dump directory does not exist on this node.
var ErrDumpDirMissing = errors.New("dump directory not found")

// ErrDumpDirDamaged means a file the manifest lists is missing or has
// another size than when it was written.
var ErrDumpDirDamaged = errors.New("dump directory damaged")

// DumpDir is a dump directory read for loading (dmraft's or mydumper's).
type DumpDir struct {
	Path     string
	Position dump.Position
	Manifest *dump.Manifest // nil for a mydumper directory
	Schemas  map[string]string
	Tables   []*DumpTable
	Views    []*DumpView
}

// DumpTable is one table of a dump directory.
type DumpTable struct {
	Schema, Name string
	SchemaFile   string // "" when the directory has none
	Chunks       []*DumpChunk
}

// ID is the upstream schema.table.
func (t *DumpTable) ID() string { return t.Schema + "." + t.Name }

// DumpChunk is one data file.
type DumpChunk struct {
	Index int
	File  string
	Bytes int64
	Rows  int64 // from the manifest; 0 when unknown
}

// DumpView is one view file.
type DumpView struct{ Schema, Name, File string }

var (
	chunkFileName = regexp.MustCompile(`^([^.]+)\.([^.]+)(?:\.(\d+))?\.sql$`)
	viewFileName  = regexp.MustCompile(`^([^.]+)\.([^.]+)-schema-view\.sql$`)
	tableFileName = regexp.MustCompile(`^([^.]+)\.([^.]+)-schema\.sql$`)
	dbFileName    = regexp.MustCompile(`^([^.]+)-schema-create\.sql$`)
)

// OpenDumpDir lists dir and reads its metadata; with a manifest every
// listed file must be present with its size, so that a damaged directory
// fails before anything is loaded.
func OpenDumpDir(dir string) (*DumpDir, error) {
	meta, err := os.ReadFile(filepath.Join(dir, dump.MetadataFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s file", ErrDumpDirMissing, dir, dump.MetadataFile)
		}
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, dump.MetadataFile), err)
	}
	d := &DumpDir{Path: dir, Schemas: map[string]string{}}
	if d.Position, err = dump.ParseMetadata(string(meta)); err != nil {
		return nil, err
	}
	if d.Manifest, err = dump.ReadManifest(dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sizes := map[string]int64{}
	tables := map[string]*DumpTable{}
	table := func(db, name string) *DumpTable {
		db, name = dump.UnescapeFileName(db), dump.UnescapeFileName(name)
		t := tables[db+"."+name]
		if t == nil {
			t = &DumpTable{Schema: db, Name: name}
			tables[db+"."+name] = t
		}
		return t
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", filepath.Join(dir, name), err)
		}
		sizes[name] = info.Size()
		if strings.HasSuffix(name, ".sql.gz") || strings.HasSuffix(name, ".sql.zst") {
			return nil, fmt.Errorf("%s: compressed dump files are not supported; decompress them first", filepath.Join(dir, name))
		}
		if m := dbFileName.FindStringSubmatch(name); m != nil {
			d.Schemas[dump.UnescapeFileName(m[1])] = name
			continue
		}
		if m := viewFileName.FindStringSubmatch(name); m != nil {
			d.Views = append(d.Views, &DumpView{Schema: dump.UnescapeFileName(m[1]), Name: dump.UnescapeFileName(m[2]), File: name})
			continue
		}
		if m := tableFileName.FindStringSubmatch(name); m != nil {
			table(m[1], m[2]).SchemaFile = name
			continue
		}
		if strings.Contains(name, "-schema") {
			continue // triggers, routines, post: not migrated (as in DM)
		}
		if m := chunkFileName.FindStringSubmatch(name); m != nil {
			idx := 0
			if m[3] != "" {
				idx, _ = strconv.Atoi(m[3])
			}
			t := table(m[1], m[2])
			t.Chunks = append(t.Chunks, &DumpChunk{Index: idx, File: name, Bytes: info.Size()})
		}
	}
	if d.Manifest != nil {
		rows := map[string]int64{}
		var bad []string
		for _, f := range d.Manifest.Files {
			rows[f.Name] = f.Rows
			got, ok := sizes[f.Name]
			switch {
			case !ok:
				bad = append(bad, f.Name+" is missing")
			case got != f.Bytes:
				bad = append(bad, fmt.Sprintf("%s has %d bytes, %d were written", f.Name, got, f.Bytes))
			}
		}
		if len(bad) > 0 {
			more := ""
			if len(bad) > 5 {
				more, bad = fmt.Sprintf(" and %d more", len(bad)-5), bad[:5]
			}
			return nil, fmt.Errorf("%w: %s: %s%s", ErrDumpDirDamaged, dir, strings.Join(bad, "; "), more)
		}
		for _, t := range tables {
			for _, c := range t.Chunks {
				c.Rows = rows[c.File]
			}
		}
	}
	// mydumper writes a placeholder CREATE TABLE for each view (to load
	// views that select from views): the view file wins.
	for _, v := range d.Views {
		if t := tables[v.Schema+"."+v.Name]; t != nil && len(t.Chunks) == 0 {
			delete(tables, v.Schema+"."+v.Name)
		}
	}
	for _, t := range tables {
		sort.Slice(t.Chunks, func(i, j int) bool { return t.Chunks[i].Index < t.Chunks[j].Index })
		d.Tables = append(d.Tables, t)
	}
	sort.Slice(d.Tables, func(i, j int) bool { return d.Tables[i].ID() < d.Tables[j].ID() })
	sort.Slice(d.Views, func(i, j int) bool {
		return d.Views[i].Schema+"."+d.Views[i].Name < d.Views[j].Schema+"."+d.Views[j].Name
	})
	return d, nil
}

// ReadStatements calls fn with each statement of an SQL file, as myloader
// splits them: lines are joined until one ends with ';' (values never hold
// a raw line break: it is escaped). Blank and comment lines between
// statements are skipped. stmt is only valid during the call.
func ReadStatements(r io.Reader, fn func(stmt []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var cur []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			cur = append(cur, line...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		eof := err != nil
		if len(cur) == 0 {
			if t := bytes.TrimSpace(line); len(t) == 0 || bytes.HasPrefix(t, []byte("--")) || t[0] == '#' {
				if eof {
					return nil
				}
				continue
			}
		}
		cur = append(cur, line...)
		stmt := bytes.TrimSpace(cur)
		if len(stmt) > 0 && stmt[len(stmt)-1] == ';' {
			if err := fn(stmt); err != nil {
				return err
			}
			cur, stmt = cur[:0], nil
		}
		if eof {
			if len(stmt) > 0 {
				return fmt.Errorf("the file ends inside a statement (%d bytes without a closing ';'): truncated?", len(stmt))
			}
			return nil
		}
	}
}

// insertHead matches the start of a data statement up to its table name.
var insertHead = regexp.MustCompile("(?is)^(?:INSERT|REPLACE)(?:\\s+IGNORE)?\\s+INTO\\s+(?:`(?:[^`]|``)+`\\s*\\.\\s*)?(?:`(?:[^`]|``)+`|[\\w$]+)")

// IsDataStatement reports whether stmt is an INSERT or REPLACE.
func IsDataStatement(stmt []byte) bool { return insertHead.Match(stmt) }

// RewriteInsert returns stmt with its verb and table replaced by verb and
// into (quoted), and the number of rows it inserts.
func RewriteInsert(stmt []byte, verb, into string) ([]byte, int64, error) {
	loc := insertHead.FindIndex(stmt)
	if loc == nil {
		return nil, 0, fmt.Errorf("not an INSERT statement: %.60q", stmt)
	}
	rest := stmt[loc[1]:]
	out := make([]byte, 0, len(rest)+len(verb)+len(into)+8)
	out = append(out, verb...)
	out = append(out, " INTO "...)
	out = append(out, into...)
	out = append(out, rest...)
	return out, CountRows(rest), nil
}

// CountRows counts the row tuples after VALUES: parentheses at depth 0
// outside quoted strings.
func CountRows(s []byte) int64 {
	i := bytes.Index(bytes.ToUpper(s[:min(len(s), 1<<16)]), []byte("VALUES"))
	if i < 0 {
		return 0
	}
	var n int64
	depth := 0
	var quote byte
	for j := i + len("VALUES"); j < len(s); j++ {
		c := s[j]
		if quote != 0 {
			switch c {
			case '\\':
				j++
			case quote:
				if j+1 < len(s) && s[j+1] == quote {
					j++
				} else {
					quote = 0
				}
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '(':
			if depth == 0 {
				n++
			}
			depth++
		case ')':
			depth--
		}
	}
	return n
}

// ReadCreateStatement returns the CREATE statement of a schema file (its
// SET lines and comments left out).
func ReadCreateStatement(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var create string
	err = ReadStatements(f, func(stmt []byte) error {
		s := strings.TrimSpace(stripVersionComment(string(stmt)))
		if create == "" && len(s) >= 6 && strings.EqualFold(s[:6], "CREATE") {
			create = strings.TrimSuffix(string(stmt), ";")
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if create == "" {
		return "", fmt.Errorf("%s holds no CREATE statement", path)
	}
	return create, nil
}

func stripVersionComment(s string) string {
	if strings.HasPrefix(s, "/*!") {
		if i := strings.Index(s, "*/"); i > 0 && strings.TrimSpace(s[i+2:]) == ";" {
			return ""
		}
	}
	return s
}
