package dump

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileNames(t *testing.T) {
	if got := ChunkFile("a.b", "c/d@", 7); got != "a@002eb.c@002fd@0040.00007.sql" {
		t.Errorf("ChunkFile: %q", got)
	}
	for _, n := range []string{"plain", "a.b", "c/d@e", "é😀", "x\\y"} {
		if got := UnescapeFileName(EscapeFileName(n)); got != n {
			t.Errorf("%q -> %q -> %q", n, EscapeFileName(n), got)
		}
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	p := Position{Name: "mysql-bin.000003", Pos: 385, GTID: "0-1-2,1-2-3"}
	text := MetadataText(p, time.Unix(0, 0), time.Unix(5, 0))
	got, err := ParseMetadata(text)
	if err != nil || got != p {
		t.Fatalf("ParseMetadata(%q) = %+v, %v", text, got, err)
	}
	// mydumper on a replica also writes the replica's source: ignored.
	got, _ = ParseMetadata(strings.Replace(text, "Finished dump", "SHOW SLAVE STATUS:\n\tHost: h\n\tLog: other.000001\n\tPos: 9\n\tGTID:\n\nFinished dump", 1))
	if got.Name != p.Name || got.Pos != p.Pos {
		t.Errorf("the replica block overrode the position: %+v", got)
	}
}

// TestDirWriterAtomic: files appear under the final name only after
// Finish; an unfinished attempt is replaced by the next one.
func TestDirWriterAtomic(t *testing.T) {
	final := filepath.Join(t.TempDir(), "task.src")
	w, err := NewDirWriter(final)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteStatement("db-schema-create.sql", "CREATE DATABASE db"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(final); err == nil {
		t.Fatal("the final directory exists before Finish")
	}
	w, err = NewDirWriter(final) // a new attempt after a crash
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.Partial, "db-schema-create.sql")); err == nil {
		t.Fatal("the unfinished attempt's files were kept")
	}
	err = w.WriteFile(ChunkFile("db", "t", 0), "db.t", 0, func(out io.Writer) (int64, error) {
		_, err := io.WriteString(out, "INSERT INTO `t` VALUES (1),(2);\n")
		return 2, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(Manifest{Task: "task", Position: Position{Name: "b.1", Pos: 4}}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(final)
	if err != nil || m == nil || len(m.Files) != 1 || m.Files[0].Rows != 2 || m.Files[0].Bytes != int64(len(FileHeader))+32 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	if _, err := os.Stat(w.Partial); err == nil {
		t.Error("the partial directory is left behind")
	}
}
