package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name  string
		files []string
		want  int64
	}{
		{"v2 limit", []string{write("v2", "268435456\n")}, 256 << 20},
		{"v2 max", []string{write("v2max", "max\n")}, 0},
		{"v1 after a missing v2", []string{missing, write("v1", "134217728\n")}, 128 << 20},
		{"v1 unlimited", []string{write("v1u", "9223372036854771712\n")}, 0},
		{"none", []string{missing}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerMemoryLimit(tc.files)
			if err != nil || got != tc.want {
				t.Errorf("containerMemoryLimit = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if _, err := containerMemoryLimit([]string{write("bad", "lots\n")}); err == nil {
		t.Error("a malformed limit: no error")
	}
}
