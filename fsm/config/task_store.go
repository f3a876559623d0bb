package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	pb "github.com/dmraft/dmraft/proto"
)

// EncryptPasswords encrypts the target password with key (kept if it
// already is; see DBConfig.EncryptPassword).
func (t *Task) EncryptPasswords(key Key) error {
	if err := t.TargetDatabase.EncryptPassword(key); err != nil {
		return fmt.Errorf("task %s: target-database: %w", t.Name, err)
	}
	return nil
}

// JSON encodes the task for the FSM (pb.Task.config_json). The target
// password must be encrypted first (EncryptPasswords; ToProto does it):
// a plain-text password is refused with ErrPlaintextPassword.
func (t *Task) JSON() ([]byte, error) {
	if t.TargetDatabase.Password != "" && t.TargetDatabase.PasswordEncrypted == "" {
		return nil, fmt.Errorf("task %s: target-database: %w: call EncryptPasswords first", t.Name, ErrPlaintextPassword)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("task %s: encode json: %w", t.Name, err)
	}
	return b, nil
}

// TaskFromJSON decodes what JSON encoded. The target password is then in
// TargetDatabase.PasswordEncrypted; use PlainPassword to connect.
func TaskFromJSON(b []byte) (*Task, error) {
	var t Task
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("decode task json: %w", err)
	}
	if t.Name == "" {
		return nil, fmt.Errorf("decode task json: %w: name", ErrMissingField)
	}
	return &t, nil
}

// ToProto converts the task to its FSM record: a normalized copy with the
// target password encrypted with secret goes to config_json; revision and
// times are left 0 for the proposer.
func (t *Task) ToProto(secret Key) (*pb.Task, error) {
	c := t.clone()
	c.Normalize()
	if err := c.EncryptPasswords(secret); err != nil {
		return nil, err
	}
	js, err := c.JSON()
	if err != nil {
		return nil, err
	}
	return &pb.Task{
		Name:       c.Name,
		TaskMode:   c.TaskMode,
		SourceIds:  c.SourceIDs(),
		ConfigJson: js,
	}, nil
}

// ConfigDiff reports whether the effective configuration of sourceID's
// subtask differs between t and other: the task-wide settings that units
// use, the target connection, and the instance's resolved rules and unit
// configs. Rule names and unrelated instances do not count. A source in
// only one of the two differs. Compare tasks in the same form, e.g. both
// decoded from FSM records (equal passwords encrypt to equal strings).
func (t *Task) ConfigDiff(other *Task, sourceID string) bool {
	a, okA := t.effective(sourceID)
	b, okB := other.effective(sourceID)
	if okA != okB {
		return true
	}
	return !bytes.Equal(a, b)
}

// effective encodes what a subtask of sourceID depends on.
func (t *Task) effective(sourceID string) ([]byte, bool) {
	if t == nil || t.Instance(sourceID) == nil {
		return nil, false
	}
	c := t.clone()
	c.Normalize()
	inst := c.Instance(sourceID)
	password := c.TargetDatabase.PasswordEncrypted + "\x00" + c.TargetDatabase.Password
	c.MySQLInstances, c.IgnoreCheckingItems = nil, nil
	c.BlockAllowList, c.Routes, c.Filters = nil, nil, nil
	c.Mydumpers, c.Loaders, c.Syncers = nil, nil, nil
	inst.BlockAllowListName, inst.RouteRules, inst.FilterRules = "", nil, nil
	inst.MydumperConfigName, inst.LoaderConfigName, inst.SyncerConfigName = "", "", ""
	inst.MydumperThread, inst.LoaderThread, inst.SyncerThread = 0, 0, 0
	if inst.BlockAllowList != nil {
		inst.BlockAllowList.Name = ""
	}
	for _, r := range inst.Routes {
		r.Name = ""
	}
	for _, r := range inst.Filters {
		r.Name = ""
	}
	b, err := json.Marshal(struct {
		Task     *Task
		Password string
		Instance *Instance
	}{c, password, inst})
	if err != nil {
		panic("config: encode subtask config: " + err.Error()) // plain data; cannot fail
	}
	return b, true
}

// clone deep-copies the task, the password included.
func (t *Task) clone() *Task {
	c := cloneJSON(t)
	c.TargetDatabase.Password = t.TargetDatabase.Password
	return c
}
