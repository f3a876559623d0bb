package units

import (
	"testing"

	"github.com/dmraft/dmraft/fsm/config"
)

func TestLoaderDir(t *testing.T) {
	d := Deps{DataDir: "/data/n1"}
	task := &config.Task{Name: "t"}
	for _, c := range []struct{ dir, want string }{
		{"", "/data/n1/dumped_data"},
		{"./dumps", "/data/n1/dumps"},
		{"/abs/x/", "/abs/x"},
		{"file:///abs/y", "/abs/y"},
	} {
		got, err := loaderDir(d, task, &config.Instance{Loader: &config.LoaderConfig{Dir: c.dir}})
		if err != nil || got != c.want {
			t.Errorf("loaderDir(%q) = %q, %v; want %q", c.dir, got, err, c.want)
		}
	}
	if _, err := loaderDir(d, task, &config.Instance{Loader: &config.LoaderConfig{Dir: "s3://bucket/p"}}); err == nil {
		t.Error("s3:// was accepted")
	}
}
