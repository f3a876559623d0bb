package cluster

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// Log field keys used by this package.
const (
	logComponent = "component"
	logPeer      = "peer"
	logIndex     = "index"
	logLeader    = "leader"
)

// newHCLogger returns an hclog.Logger for hashicorp/raft that writes warnings
// and errors into log; raft's info and debug chatter is dropped.
func newHCLogger(log zerolog.Logger, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Warn,
		Output:     hclogWriter{log: log},
		JSONFormat: true,
	})
}

// hclogWriter turns hclog's JSON lines into zerolog events.
type hclogWriter struct{ log zerolog.Logger }

func (w hclogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			w.log.Warn().Msg(string(line))
			continue
		}
		ev := w.log.Warn()
		if lvl, _ := rec["@level"].(string); lvl == "error" {
			ev = w.log.Error()
		}
		msg, _ := rec["@message"].(string)
		for k, v := range rec {
			switch {
			case strings.HasPrefix(k, "@"):
			case k == zerolog.TimestampFieldName || k == zerolog.LevelFieldName || k == zerolog.MessageFieldName:
				ev = ev.Interface("raft_"+k, v) // keep zerolog's own keys unique
			default:
				ev = ev.Interface(k, v)
			}
		}
		ev.Msg(msg)
	}
	return len(p), nil
}

// memberlistWriter turns memberlist's "[LEVEL] memberlist: msg" lines into
// zerolog events, keeping only warnings and errors.
type memberlistWriter struct{ log zerolog.Logger }

func (w memberlistWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(string(p), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.Contains(line, "[ERR]"):
			w.log.Error().Msg(afterLevel(line))
		case strings.Contains(line, "[WARN]"):
			w.log.Warn().Msg(afterLevel(line))
		}
	}
	return len(p), nil
}

func afterLevel(line string) string {
	if i := strings.Index(line, "] "); i >= 0 {
		return line[i+2:]
	}
	return line
}
