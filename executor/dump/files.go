package dump

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A dump directory has mydumper 0.10's layout, so that myloader and the
// mysql client can read it too:
//
//	metadata                      the snapshot position, in mydumper's format
//	<db>-schema-create.sql        CREATE DATABASE
//	<db>.<table>-schema.sql       CREATE TABLE
//	<db>.<table>.<NNNNN>.sql      chunk NNNNN: INSERT statements, one a line
//	<db>.<view>-schema-view.sql   CREATE VIEW (no DEFINER)
//	dmraft-manifest.json          task, node, every file with its size and rows
//
// Names are the upstream ones (routes apply when the files are loaded).
// Characters that a file name cannot hold unambiguously ('/', '.', '\',
// '@', NUL) are written as @XXXX (their code point in hex, as MySQL names
// files). Every file starts with the session settings the values need.
const (
	MetadataFile = "metadata"
	ManifestName = "dmraft-manifest.json"
	// PartialSuffix marks a directory that is still being written; it is
	// renamed to its final name once every file is on disk.
	PartialSuffix = ".partial"
)

// FileHeader is the first lines of every SQL file: the literals are exact
// under character set binary, UTC and a sql_mode that keeps zero dates
// and explicit zeros in AUTO_INCREMENT columns.
const FileHeader = "/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n/*!40103 SET TIME_ZONE='+00:00' */;\n" +
	"/*!40101 SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION' */;\n"

// SchemaCreateFile names the CREATE DATABASE file of db.
func SchemaCreateFile(db string) string { return EscapeFileName(db) + "-schema-create.sql" }

// TableSchemaFile names the CREATE TABLE file of db.table.
func TableSchemaFile(db, table string) string {
	return EscapeFileName(db) + "." + EscapeFileName(table) + "-schema.sql"
}

// ViewSchemaFile names the CREATE VIEW file of db.view.
func ViewSchemaFile(db, view string) string {
	return EscapeFileName(db) + "." + EscapeFileName(view) + "-schema-view.sql"
}

// ChunkFile names the data file of chunk index of db.table.
func ChunkFile(db, table string, index int) string {
	return fmt.Sprintf("%s.%s.%05d.sql", EscapeFileName(db), EscapeFileName(table), index)
}

// EscapeFileName writes the bytes '/', '.', '\', '@' and NUL as @XXXX.
func EscapeFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch r {
		case '/', '.', '\\', '@', 0:
			fmt.Fprintf(&b, "@%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UnescapeFileName reverses EscapeFileName.
func UnescapeFileName(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		var r rune
		if s[i] == '@' && i+5 <= len(s) {
			if _, err := fmt.Sscanf(s[i+1:i+5], "%04x", &r); err == nil {
				b.WriteRune(r)
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Manifest is what dmraft wrote into a dump directory.
type Manifest struct {
	Task        string         `json:"task"`
	Source      string         `json:"source"`
	TaskCreated int64          `json:"taskCreatedUnixMs"`
	Node        string         `json:"node"`
	Position    Position       `json:"position"`
	Started     time.Time      `json:"started"`
	Finished    time.Time      `json:"finished"`
	Files       []ManifestFile `json:"files"`
}

// ManifestFile is one file of a dump directory.
type ManifestFile struct {
	Name  string `json:"name"`
	Table string `json:"table,omitempty"` // upstream db.table of a chunk file
	Chunk int    `json:"chunk,omitempty"`
	Rows  int64  `json:"rows,omitempty"`
	Bytes int64  `json:"bytes"`
}

// ReadManifest reads dir's manifest; it returns (nil, nil) when there is
// none (a directory written by mydumper).
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	return m, nil
}

// DirWriter writes a dump directory under its partial name and renames it
// when every file is on disk.
type DirWriter struct {
	Final, Partial string

	mu    sync.Mutex
	files []ManifestFile
}

// NewDirWriter starts writing the dump directory final: an earlier
// unfinished attempt (final.partial) is removed, final must not exist.
func NewDirWriter(final string) (*DirWriter, error) {
	w := &DirWriter{Final: final, Partial: final + PartialSuffix}
	if err := os.RemoveAll(w.Partial); err != nil {
		return nil, fmt.Errorf("remove the unfinished dump %s: %w", w.Partial, err)
	}
	if err := os.MkdirAll(w.Partial, 0o750); err != nil {
		return nil, fmt.Errorf("create the dump directory: %w", err)
	}
	return w, nil
}

// WriteFile writes one file: the header, then what write writes (it
// returns the rows written), then fsync. table and chunk describe a chunk
// file ("" for schema files).
func (w *DirWriter) WriteFile(name, table string, chunk int, write func(io.Writer) (int64, error)) error {
	p := filepath.Join(w.Partial, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create dump file: %w", err)
	}
	defer f.Close()
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if _, err := bw.WriteString(FileHeader); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	rows, err := write(bw)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p, err)
	}
	w.mu.Lock()
	w.files = append(w.files, ManifestFile{Name: name, Table: table, Chunk: chunk, Rows: rows, Bytes: cw.n})
	w.mu.Unlock()
	return nil
}

// WriteStatement writes one SQL statement file (schema files).
func (w *DirWriter) WriteStatement(name, stmt string) error {
	return w.WriteFile(name, "", 0, func(out io.Writer) (int64, error) {
		_, err := io.WriteString(out, strings.TrimRight(stmt, "; \n")+";\n")
		return 0, err
	})
}

// Finish writes metadata and the manifest, fsyncs the directory and
// renames it to its final name (then fsyncs the parent). Only after
// Finish returns is the dump complete.
func (w *DirWriter) Finish(m Manifest) error {
	w.mu.Lock()
	m.Files = append([]ManifestFile(nil), w.files...)
	w.mu.Unlock()
	meta := MetadataText(m.Position, m.Started, m.Finished)
	manifest, _ := json.MarshalIndent(m, "", "  ")
	for _, f := range []struct {
		name string
		data []byte
	}{{MetadataFile, []byte(meta)}, {ManifestName, manifest}} {
		if err := writeSynced(filepath.Join(w.Partial, f.name), f.data); err != nil {
			return err
		}
	}
	if err := syncDir(w.Partial); err != nil {
		return err
	}
	if err := os.Rename(w.Partial, w.Final); err != nil {
		return fmt.Errorf("rename the finished dump: %w", err)
	}
	return syncDir(filepath.Dir(w.Final))
}

// MetadataText is mydumper 0.10's metadata file.
func MetadataText(p Position, started, finished time.Time) string {
	const layout = "2006-01-02 15:04:05"
	var b strings.Builder
	fmt.Fprintf(&b, "Started dump at: %s\n", started.UTC().Format(layout))
	if p.Name != "" {
		fmt.Fprintf(&b, "SHOW MASTER STATUS:\n\tLog: %s\n\tPos: %d\n\tGTID:%s\n\n", p.Name, p.Pos, p.GTID)
	}
	fmt.Fprintf(&b, "Finished dump at: %s\n", finished.UTC().Format(layout))
	return b.String()
}

// ParseMetadata reads the snapshot position from a mydumper metadata file
// (the SHOW MASTER STATUS block; a replica's SHOW SLAVE STATUS block is
// ignored).
func ParseMetadata(text string) (Position, error) {
	var p Position
	inMaster := false
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "SHOW MASTER STATUS"):
			inMaster = true
		case strings.HasPrefix(t, "SHOW SLAVE STATUS"), strings.HasPrefix(t, "Finished dump"):
			inMaster = false
		case inMaster && strings.HasPrefix(t, "Log:"):
			p.Name = strings.TrimSpace(strings.TrimPrefix(t, "Log:"))
		case inMaster && strings.HasPrefix(t, "Pos:"):
			if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(t, "Pos:")), "%d", &p.Pos); err != nil {
				return p, fmt.Errorf("metadata: bad position line %q", t)
			}
		case inMaster && strings.HasPrefix(t, "GTID:"):
			p.GTID = strings.TrimSpace(strings.TrimPrefix(t, "GTID:"))
		}
	}
	return p, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create dump file: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
