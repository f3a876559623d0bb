package scheduler

import (
	"slices"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	now := t0.Add(time.Hour)
	silent := func(name string, d time.Duration) Member { return Member{Name: name, LastSeen: now.Add(-d)} }
	tests := []struct {
		name    string
		view    viewOf
		members []Member
		want    []string
	}{
		{
			name:    "bind to the node with the fewest bindings",
			view:    newView("n1", "n2").bound("s1", "n1", 1).bound("s2", "n1", 1).bound("s3", "n2", 1).src("s4", 0, ""),
			members: alive(now, "n1", "n2"),
			want:    []string{"bind s4 -> n2 epoch 1"},
		},
		{
			name:    "ties by name",
			view:    newView("n2", "n1", "n3").src("s1", 0, ""),
			members: alive(now, "n3", "n2", "n1"),
			want:    []string{"bind s1 -> n1 epoch 1"},
		},
		{
			name:    "prefer the last node while it is alive",
			view:    newView("n1", "n2").bound("s1", "n2", 4).src("s2", 7, "n2"),
			members: alive(now, "n1", "n2"),
			want:    []string{"bind s2 -> n2 epoch 8"},
		},
		{
			name:    "last node fenced: fewest",
			view:    newView("n1", "n2", "n3").bound("s1", "n1", 1).src("s2", 7, "n3"),
			members: append(alive(now, "n1", "n2"), silent("n3", grace+time.Millisecond)),
			want:    []string{"bind s2 -> n2 epoch 8"},
		},
		{
			name:    "last node silent within the grace: wait",
			view:    newView("n1", "n2").src("s1", 7, "n2"),
			members: append(alive(now, "n1"), silent("n2", grace-time.Millisecond)),
		},
		{
			name:    "rebind after the grace",
			view:    newView("n1", "n2").bound("s1", "n2", 5),
			members: append(alive(now, "n1"), silent("n2", grace+time.Millisecond)),
			want:    []string{"bind s1 -> n1 epoch 6"},
		},
		{
			name:    "no rebind 1ms before the grace ends",
			view:    newView("n1", "n2").bound("s1", "n2", 5),
			members: append(alive(now, "n1"), silent("n2", grace-time.Millisecond)),
		},
		{
			name:    "no rebind at exactly the grace",
			view:    newView("n1", "n2").bound("s1", "n2", 5),
			members: append(alive(now, "n1"), silent("n2", grace)),
		},
		{
			name:    "no alive target: leave the binding alone",
			view:    newView("n1", "n2").bound("s1", "n2", 5),
			members: []Member{silent("n1", time.Minute), silent("n2", time.Minute)},
		},
		{
			name:    "node missing from members: never heard from",
			view:    newView("n1", "n2").bound("s1", "n2", 5),
			members: alive(now, "n1"),
			want:    []string{"bind s1 -> n1 epoch 6"},
		},
		{
			name:    "removed node: rebind",
			view:    newView("n1").bound("s1", "gone", 5),
			members: alive(now, "n1"),
			want:    []string{"bind s1 -> n1 epoch 6"},
		},
		{
			name:    "removed node heard from within the grace: wait",
			view:    newView("n1").bound("s1", "gone", 5),
			members: append(alive(now, "n1"), silent("gone", time.Second)),
		},
		{
			name: "disabled source is not bound",
			view: func() viewOf {
				b := newView("n1").src("s1", 0, "")
				b.v.Sources["s1"].Enabled = false
				return b
			}(),
			members: alive(now, "n1"),
		},
		{
			name: "evict-leader node still takes bindings",
			view: func() viewOf {
				b := newView("n1", "n2").bound("s1", "n2", 1).src("s2", 0, "")
				b.v.Nodes["n1"].EvictLeader = true
				return b
			}(),
			members: alive(now, "n1", "n2"),
			want:    []string{"bind s2 -> n1 epoch 1"},
		},
		{
			name:    "unregistered member takes nothing",
			view:    newView("n2").bound("s1", "n2", 1).src("s2", 0, ""),
			members: alive(now, "n1", "n2"),
			want:    []string{"bind s2 -> n2 epoch 1"},
		},
		{
			name:    "balance over several sources",
			view:    newView("n1", "n2", "n3").src("s1", 0, "").src("s2", 0, "").src("s3", 0, "").src("s4", 0, "").src("s5", 0, "").src("s6", 0, "").src("s7", 0, ""),
			members: alive(now, "n1", "n2", "n3"),
			want: []string{
				"bind s1 -> n1 epoch 1", "bind s2 -> n2 epoch 1", "bind s3 -> n3 epoch 1", "bind s4 -> n1 epoch 1",
				"bind s5 -> n2 epoch 1", "bind s6 -> n3 epoch 1", "bind s7 -> n1 epoch 1",
			},
		},
		{
			name:    "rebinds count the moves planned before them",
			view:    newView("n1", "n2", "n3").bound("s0", "n1", 1).bound("s1", "n3", 2).bound("s2", "n3", 3).bound("s3", "n3", 4),
			members: append(alive(now, "n1", "n2"), silent("n3", time.Minute)),
			want:    []string{"bind s1 -> n2 epoch 3", "bind s2 -> n1 epoch 4", "bind s3 -> n2 epoch 5"},
		},
		{
			name:    "healthy bindings stay",
			view:    newView("n1", "n2").bound("s1", "n1", 1).bound("s2", "n1", 1).bound("s3", "n1", 1),
			members: alive(now, "n1", "n2"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeAll(t, Plan(tt.view.v, tt.members, now, cfg))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan:\n got %q\nwant %q", got, tt.want)
			}
			again := describeAll(t, Plan(tt.view.v, tt.members, now, cfg))
			if !slices.Equal(got, again) {
				t.Errorf("Plan is not deterministic: %q then %q", got, again)
			}
		})
	}
}
