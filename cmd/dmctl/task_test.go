package main

import (
	"testing"
	"time"
)

func TestParseStartTime(t *testing.T) {
	loc := time.FixedZone("UTC+8", 8*3600)
	want := time.Date(2021, 10, 21, 0, 1, 0, 0, loc)
	for _, text := range []string{"2021-10-21 00:01:00", "2021-10-21T00:01:00", " 2021-10-21 00:01:00 ", "2021-10-20T16:01:00Z", "2021-10-21T00:01:00+08:00"} {
		got, err := parseStartTime(text, loc)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !got.Equal(want) {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2021-10-21", "21-10-2021 00:01:00"} {
		if _, err := parseStartTime(bad, loc); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
