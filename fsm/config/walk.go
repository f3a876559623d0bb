package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// unsupporter is implemented by config types that know DM fields dmraft
// does not implement; it maps each such field to the reason shown.
type unsupporter interface {
	unsupportedFields() map[string]string
}

// decodeYAML parses text, checks every field name and value type against
// out's yaml tags, and decodes into out. It returns the line of every field
// path present in the file, for the messages of later validation.
func decodeYAML(file string, text []byte, out any) (map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", file, ErrInvalidYAML, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &FieldError{File: file, Msg: "the file is empty", Err: ErrInvalidYAML,
			Hint: "write one field per line, e.g. \"name: my-task\""}
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: root.Line, Err: ErrInvalidYAML,
			Msg: "the top level must be a mapping of field: value, got " + kindName(root)}
	}
	w := &walker{p: newProblems(file, nil)}
	w.walk(root, reflect.TypeOf(out).Elem(), "")
	if err := w.p.err(); err != nil {
		return nil, err
	}
	if err := root.Decode(out); err != nil {
		// The walk checked every value's type, so this is unexpected; the
		// message of yaml.v3 cannot hold a password (a string never fails).
		return nil, fmt.Errorf("%s: %w: %w", file, ErrInvalidYAML, err)
	}
	return w.p.lines, nil
}

type walker struct {
	p *problems
}

var durationType = reflect.TypeOf(Duration(0))

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	n = resolveAlias(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || new(Duration).UnmarshalYAML(n) != nil {
			w.badType(n, path, "must be a duration such as 30s, 5m or 1h")
		}
	case t.Kind() == reflect.Struct:
		w.walkStruct(n, t, path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.badType(n, path, "must be a mapping of name: value")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			w.p.lines[p] = k.Line
			if t.Elem().Kind() != reflect.Interface {
				w.walk(v, t.Elem(), p)
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.badType(n, path, "must be a list, e.g. [a, b] or one \"- item\" per line")
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.p.lines[p] = item.Line
			w.walk(item, t.Elem(), p)
		}
	case t.Kind() == reflect.Interface:
	default:
		w.walkScalar(n, t, path)
	}
}

func (w *walker) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.badType(n, path, "must be a mapping of field: value")
		return
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	var unsupported map[string]string
	if u, ok := reflect.New(t).Interface().(unsupporter); ok {
		unsupported = u.unsupportedFields()
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			w.walkMerge(resolveAlias(v), t, path)
			continue
		}
		p := joinPath(path, k.Value)
		ft, ok := fields[k.Value]
		switch {
		case ok:
			w.p.lines[p] = k.Line
			w.walk(v, ft, p)
		case unsupported[k.Value] != "":
			w.p.errs = append(w.p.errs, &FieldError{File: w.p.file, Field: p, Line: k.Line,
				Err: ErrUnsupportedField, Hint: unsupported[k.Value],
				Msg: fmt.Sprintf("field %q%s is not supported by dmraft", k.Value, inPath(path))})
		default:
			hint := "known fields: " + strings.Join(names, ", ")
			if s := suggest(k.Value, names); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			w.p.errs = append(w.p.errs, &FieldError{File: w.p.file, Field: p, Line: k.Line,
				Err: ErrUnknownField, Hint: hint,
				Msg: fmt.Sprintf("unknown field %q%s", k.Value, inPath(path))})
		}
	}
}

func (w *walker) walkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			w.walkStruct(resolveAlias(item), t, path)
		}
		return
	}
	w.walkStruct(v, t, path)
}

func (w *walker) walkScalar(n *yaml.Node, t reflect.Type, path string) {
	want := "must be a single value"
	switch t.Kind() {
	case reflect.Bool:
		want = "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		want = "must be an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "must be a non-negative integer"
	case reflect.Float32, reflect.Float64:
		want = "must be a number"
	}
	if n.Kind != yaml.ScalarNode {
		w.badType(n, path, want)
		return
	}
	if n.Decode(reflect.New(t).Interface()) != nil {
		w.badType(n, path, want)
	}
}

// badType reports a value of the wrong shape. It names the field and the
// kind of value found, never the value itself (it may be a password).
func (w *walker) badType(n *yaml.Node, path, want string) {
	w.p.errs = append(w.p.errs, &FieldError{File: w.p.file, Field: path, Line: n.Line,
		Err: ErrInvalidValue, Msg: fmt.Sprintf("field %q %s", path, want), Hint: "got " + kindName(n)})
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!str":
			return "a string"
		}
		return "a value of type " + strings.TrimPrefix(n.ShortTag(), "!!")
	}
	return "nothing"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func inPath(path string) string {
	if path == "" {
		return ""
	}
	return fmt.Sprintf(" in %q", path)
}

// sortedKeys returns the keys of m in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
