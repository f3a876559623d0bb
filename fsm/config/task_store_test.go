package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTaskJSONRoundTrip(t *testing.T) {
	task := parseExampleTask(t)
	if err := task.EncryptPasswords(testKey); err != nil {
		t.Fatal(err)
	}
	b, err := task.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "T4rget-Pa55") || !strings.Contains(string(b), `"password-encrypted":"`) {
		t.Fatalf("stored JSON has the password in plain text or not at all: %s", b)
	}
	back, err := TaskFromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(task, back) {
		t.Fatalf("round trip changed the task:\n%+v\n%+v", task, back)
	}
	if p, err := back.TargetDatabase.PlainPassword(testKey); err != nil || p != "T4rget-Pa55" {
		t.Fatalf("PlainPassword = %q, %v", p, err)
	}
	if back.Instance("mysql-replica-02").Syncer.WorkerCount != 32 {
		t.Fatal("effective config lost in JSON")
	}
}

func TestTaskJSONErrors(t *testing.T) {
	task := parseExampleTask(t)
	_, err := task.JSON()
	if !errors.Is(err, ErrPlaintextPassword) || strings.Contains(err.Error(), "T4rget-Pa55") {
		t.Fatalf("JSON with a plain password: %v", err)
	}
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"not json":     {`{"name": `, nil},
		"missing name": {`{"task-mode": "all"}`, ErrMissingField},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := TaskFromJSON([]byte(tc.in))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTaskToProto(t *testing.T) {
	task := parseExampleTask(t)
	rec, err := task.ToProto(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "shard-orders" || rec.TaskMode != "all" || rec.Revision != 0 ||
		!reflect.DeepEqual(rec.SourceIds, []string{"mysql-replica-01", "mysql-replica-02"}) {
		t.Fatalf("record = %v", rec)
	}
	if task.TargetDatabase.Password != "T4rget-Pa55" {
		t.Fatal("ToProto changed the task it was called on")
	}
	var stored struct {
		Target struct {
			Password string `json:"password-encrypted"`
		} `json:"target-database"`
	}
	if err := json.Unmarshal(rec.ConfigJson, &stored); err != nil {
		t.Fatal(err)
	}
	if p, err := Decrypt(testKey, stored.Target.Password); err != nil || p != "T4rget-Pa55" {
		t.Fatalf("stored password decrypts to %q, %v", p, err)
	}
	again, _ := task.ToProto(testKey)
	if string(again.ConfigJson) != string(rec.ConfigJson) {
		t.Fatal("the same task gives different records")
	}
	back, err := TaskFromJSON(rec.ConfigJson)
	if err != nil || back.Instance("mysql-replica-01").Mydumper.Threads != 6 {
		t.Fatalf("TaskFromJSON(record) = %v, %v", back, err)
	}
}

func TestConfigDiff(t *testing.T) {
	example := string(readTestdata(t, "task.yaml"))
	stored := func(t *testing.T, y string) *Task {
		t.Helper()
		task, err := ParseTask([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := task.ToProto(testKey)
		if err != nil {
			t.Fatal(err)
		}
		back, err := TaskFromJSON(rec.ConfigJson)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	edit := func(old, new string) string {
		if !strings.Contains(example, old) {
			t.Fatalf("testdata/task.yaml has no %q", old)
		}
		return strings.Replace(example, old, new, 1)
	}
	src3 := strings.Replace(example, "\nblock-allow-list:", "\n  - source-id: mysql-replica-03\n    route-rules: [orders-route]\n\nblock-allow-list:", 1)
	tests := []struct {
		name         string
		updated      string
		src1, src2   bool // want ConfigDiff for mysql-replica-01, -02
		src3, absent bool
	}{
		{"same file", example, false, false, false, false},
		{"global syncer used by both", edit("    batch: 200", "    batch: 300"), true, true, false, false},
		{"filter used by src2 only", edit(`sql-pattern: ["^DROP\\s+DATABASE"]`, `sql-pattern: ["^DROP"]`), false, true, false, false},
		{"inline loader of src2", edit("      pool-size: 32", "      pool-size: 8"), false, true, false, false},
		{"meta of src1", edit("      binlog-pos: 194", "      binlog-pos: 4"), true, false, false, false},
		{"route renamed, same content", strings.ReplaceAll(example, "store-route", "store-rt"), false, false, false, false},
		{"target password", edit(`password: "T4rget-Pa55"`, `password: "other"`), true, true, false, false},
		{"task mode", edit("task-mode: all", "task-mode: full"), true, true, false, false},
		{"ignore-checking-items only", edit(`["auto_increment_ID"]`, `["auto_increment_ID", "version"]`), false, false, false, false},
		{"source added", src3, false, false, true, false},
	}
	old := stored(t, example)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			updated := stored(t, tc.updated)
			for _, c := range []struct {
				source string
				want   bool
			}{{"mysql-replica-01", tc.src1}, {"mysql-replica-02", tc.src2}, {"mysql-replica-03", tc.src3}, {"absent", tc.absent}} {
				if got := old.ConfigDiff(updated, c.source); got != c.want {
					t.Errorf("ConfigDiff(%s) = %v, want %v", c.source, got, c.want)
				}
				if got := updated.ConfigDiff(old, c.source); got != c.want {
					t.Errorf("reverse ConfigDiff(%s) = %v, want %v", c.source, got, c.want)
				}
			}
		})
	}
	if !old.ConfigDiff(nil, "mysql-replica-01") || (*Task)(nil).ConfigDiff(nil, "x") {
		t.Error("ConfigDiff with nil")
	}
}
