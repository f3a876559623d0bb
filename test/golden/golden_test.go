package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEachStep(t *testing.T) {
	script := "# a comment\nsay a b\n\n  # an indented comment\nsay c\n"
	var out strings.Builder
	var steps []string
	EachStep(script, &out, func(number int, line string) {
		steps = append(steps, line)
		out.WriteString("  step " + strings.Repeat("*", number) + "\n")
	})
	want := "# a comment\nsay a b\n  step **\n\n  # an indented comment\nsay c\n  step *****\n"
	if out.String() != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Join(steps, "|") != "say a b|say c" {
		t.Errorf("steps %q, want the two non-comment lines", steps)
	}
}

// shout is the transcript of a script in these tests: the script upper-cased.
func shout(_ *testing.T, script string) string { return strings.ToUpper(script) }

func TestRunComparesEachScriptWithItsGoldenFile(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"one.script": "hello\n", "one.golden": "HELLO\n",
		"two.script": "bye\n", "two.golden": "BYE\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var ran []string
	Run(t, filepath.Join(dir, "*.script"), func(t *testing.T, script string) string {
		ran = append(ran, t.Name())
		return shout(t, script)
	})
	if want := "TestRunComparesEachScriptWithItsGoldenFile/one TestRunComparesEachScriptWithItsGoldenFile/two"; strings.Join(ran, " ") != want {
		t.Errorf("subtests %q, want %q", ran, want)
	}
}

func TestRunRewritesTheGoldenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "one.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	*rewrite = true
	defer func() { *rewrite = false }()
	Run(t, filepath.Join(dir, "*.txt"), shout)
	got, err := os.ReadFile(filepath.Join(dir, "one.golden"))
	if err != nil || string(got) != "HELLO\n" {
		t.Fatalf("one.golden = %q, %v; want the transcript HELLO", got, err)
	}
}
