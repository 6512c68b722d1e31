package registry

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitKey(t *testing.T) {
	tests := []struct {
		name, key   string
		table, item string
		wantErr     bool
	}{
		{name: "plain", key: "jobs/j-1", table: "jobs", item: "j-1"},
		{name: "every allowed character", key: "a.Z_9:-/x.Y_0:-", table: "a.Z_9:-", item: "x.Y_0:-"},
		{name: "empty", key: "", wantErr: true},
		{name: "no slash", key: "jobs", wantErr: true},
		{name: "empty name", key: "jobs/", wantErr: true},
		{name: "empty table", key: "/j", wantErr: true},
		{name: "two slashes", key: "jobs/a/b", wantErr: true},
		{name: "space", key: "jobs/a b", wantErr: true},
		{name: "non-ASCII", key: "jobs/ü", wantErr: true},
		{name: "dot-dot is allowed as a name", key: "jobs/..", table: "jobs", item: ".."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, item, err := SplitKey(tc.key)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("SplitKey(%q) = %q, %q, %v; want ErrInvalidKey", tc.key, table, item, err)
				}
				return
			}
			if err != nil || table != tc.table || item != tc.item {
				t.Fatalf("SplitKey(%q) = %q, %q, %v; want %q, %q", tc.key, table, item, err, tc.table, tc.item)
			}
		})
	}
}

func TestCheckValue(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{name: "empty", size: 0},
		{name: "limit", size: MaxValueSize},
		{name: "over", size: MaxValueSize + 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckValue([]byte(strings.Repeat("x", tc.size)))
			if got := errors.Is(err, ErrTooLarge); got != tc.wantErr || (!tc.wantErr && err != nil) {
				t.Fatalf("CheckValue(%d bytes) = %v, want error %v", tc.size, err, tc.wantErr)
			}
		})
	}
}
