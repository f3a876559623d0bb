package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrInvalidYAML means the text is not well-formed YAML, or is empty.
	ErrInvalidYAML = errors.New("invalid YAML")
	// ErrUnknownField means a field name is not part of the DM format.
	ErrUnknownField = errors.New("unknown field")
	// ErrUnsupportedField means a DM field that dmraft does not implement.
	ErrUnsupportedField = errors.New("unsupported field")
	// ErrMissingField means a required field is absent or empty.
	ErrMissingField = errors.New("missing required field")
	// ErrInvalidValue means a value has the wrong type or is not allowed.
	ErrInvalidValue = errors.New("invalid value")
	// ErrUndefinedReference means a name refers to a rule or config that is
	// not defined, e.g. a route-rules entry naming an undefined route.
	ErrUndefinedReference = errors.New("undefined reference")
	// ErrUnusedConfig means a global rule or config that no mysql-instance
	// refers to (DM rejects these too, they are usually a forgotten reference).
	ErrUnusedConfig = errors.New("unused config")
	// ErrDuplicateSource means a source-id listed twice in mysql-instances.
	ErrDuplicateSource = errors.New("duplicate source-id")
	// ErrInvalidKey means a secret key that is not 64 hex characters.
	ErrInvalidKey = errors.New("invalid secret key")
	// ErrDecrypt means a string that is not a password encrypted with the key.
	ErrDecrypt = errors.New("cannot decrypt password")
	// ErrPlaintextPassword means an attempt to store a password that is not
	// encrypted yet; call EncryptPasswords or ToProto first.
	ErrPlaintextPassword = errors.New("password is not encrypted")
)

// FieldError is a problem at one place of a YAML file. Its message names the
// field, the line and what to do; it never contains a password.
type FieldError struct {
	File  string // "source.yaml" or "task.yaml"
	Field string // dotted path, e.g. "mysql-instances[1].route-rules[0]"; may be empty
	Line  int    // 1-based line in the file; 0 when unknown
	Msg   string // what is wrong
	Hint  string // what to do, or a suggestion; may be empty
	Err   error  // one of the sentinel errors
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d", e.Line)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *FieldError) Unwrap() error { return e.Err }

// problems collects the FieldErrors of one file.
type problems struct {
	file  string
	lines map[string]int // field path -> line, from the node walk
	errs  []*FieldError
}

func newProblems(file string, lines map[string]int) *problems {
	if lines == nil {
		lines = map[string]int{}
	}
	return &problems{file: file, lines: lines}
}

// add records a problem at field; its line is the field's, or that of the
// nearest enclosing field that the file has.
func (p *problems) add(sentinel error, field, hint, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{
		File: p.file, Field: field, Line: p.lineOf(field),
		Msg: fmt.Sprintf(format, args...), Hint: hint, Err: sentinel,
	})
}

func (p *problems) missing(field, hint string) {
	p.add(ErrMissingField, field, hint, "missing required field %q", field)
}

func (p *problems) badEnum(field, value string, allowed []string) {
	p.add(ErrInvalidValue, field, "allowed: "+strings.Join(allowed, ", "),
		"invalid value %q for %q", value, field)
}

func (p *problems) lineOf(field string) int {
	for field != "" {
		if l, ok := p.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return 0
		}
		field = field[:i]
	}
	return 0
}

// err returns nil, the only problem, or all problems joined in line order.
func (p *problems) err() error {
	switch len(p.errs) {
	case 0:
		return nil
	case 1:
		return p.errs[0]
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// suggest returns the known name closest to name, or "" if none is close.
func suggest(name string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	n := norm(name)
	best, bestDist := "", 1<<30
	for _, k := range known {
		if d := editDistance(n, norm(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	limit := max(2, len(name)/4)
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and adjacent transpositions cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
