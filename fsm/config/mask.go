package config

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// maskYAMLPassword returns text with the scalar at path (e.g. "from",
// "password") replaced by '******'. It edits the text in place when the
// scalar sits on one line, so comments and layout stay as submitted, and
// re-encodes the document otherwise (block scalars, multi-line strings).
func maskYAMLPassword(text []byte, path ...string) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return "", err
	}
	if len(doc.Content) == 0 {
		return string(text), nil
	}
	var targets []*yaml.Node
	for _, n := range findScalars(doc.Content[0], path) {
		if !slices.Contains(targets, n) {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		return string(text), nil
	}
	if out, ok := maskInPlace(text, targets); ok {
		return out, nil
	}
	for _, n := range targets {
		n.Value, n.Style, n.Tag = masked, yaml.SingleQuotedStyle, "!!str"
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// findScalars returns the non-empty scalar nodes at path, following
// aliases and merge keys (so an anchored password is found at its anchor).
func findScalars(n *yaml.Node, path []string) []*yaml.Node {
	n = resolveAlias(n)
	if len(path) == 0 {
		if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" && n.Value != "" {
			return []*yaml.Node{n}
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Value == path[0]:
			out = append(out, findScalars(v, path[1:])...)
		case k.Value == "<<":
			v = resolveAlias(v)
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					out = append(out, findScalars(m, path)...)
				}
			} else {
				out = append(out, findScalars(v, path)...)
			}
		}
	}
	return out
}

// maskInPlace replaces each target's token in text, if every token can be
// found on its line and re-parses to the node's value.
func maskInPlace(text []byte, targets []*yaml.Node) (string, bool) {
	lines := strings.SplitAfter(string(text), "\n")
	type edit struct{ line, start, end int }
	var edits []edit
	for _, n := range targets {
		if n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
			return "", false
		}
		line := lines[n.Line-1]
		runes := []rune(line)
		if n.Column-1 > len(runes) {
			return "", false
		}
		start := len(string(runes[:n.Column-1]))
		end, ok := tokenEnd(line, start, n)
		if !ok {
			return "", false
		}
		edits = append(edits, edit{n.Line - 1, start, end})
	}
	// Apply right to left so earlier offsets on a line stay valid.
	sort.Slice(edits, func(i, j int) bool {
		if edits[i].line != edits[j].line {
			return edits[i].line < edits[j].line
		}
		return edits[i].start < edits[j].start
	})
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		lines[e.line] = lines[e.line][:e.start] + "'" + masked + "'" + lines[e.line][e.end:]
	}
	return strings.Join(lines, ""), true
}

// tokenEnd finds where the scalar token that starts at line[start:] ends,
// and checks that the token parses back to n's value.
func tokenEnd(line string, start int, n *yaml.Node) (int, bool) {
	rest := line[start:]
	var token string
	switch n.Style {
	case 0:
		if !strings.HasPrefix(rest, n.Value) {
			return 0, false
		}
		token = n.Value
	case yaml.SingleQuotedStyle:
		token = "'" + strings.ReplaceAll(n.Value, "'", "''") + "'"
		if !strings.HasPrefix(rest, token) {
			return 0, false
		}
	case yaml.DoubleQuotedStyle:
		end := closingQuote(rest)
		if end < 0 {
			return 0, false
		}
		token = rest[:end+1]
	default:
		return 0, false
	}
	var m map[string]string
	if err := yaml.Unmarshal([]byte("v: "+token), &m); err != nil || m["v"] != n.Value {
		return 0, false
	}
	return start + len(token), true
}

// closingQuote returns the index of the '"' that closes the double-quoted
// string at the start of s, or -1 if it does not close on this line.
func closingQuote(s string) int {
	if !strings.HasPrefix(s, `"`) {
		return -1
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		case '\n':
			return -1
		}
	}
	return -1
}
