package groups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultIsLegacy(t *testing.T) {
	c := Default()
	want := []Change{{"office", true}, {"cdrom", true}, {"audio", true}, {"video", true}, {"www", true}}
	if got := c.Plan("office", true); !reflect.DeepEqual(got, want) {
		t.Errorf("add office = %v", got)
	}
	want = []Change{{"syscom", false}, {"office", false}, {"staff", false}, {"adm", false}, {"src", false}}
	if got := c.Plan("syscom", false); !reflect.DeepEqual(got, want) {
		t.Errorf("remove syscom = %v", got)
	}
	if got := c.Plan("clubx", true); !reflect.DeepEqual(got, []Change{{"clubx", true}}) {
		t.Errorf("a group without cascade = %v", got)
	}
}

func TestParse(t *testing.T) {
	c, err := Parse(map[string]string{
		"group_cascade_office": "cdrom, www www office", // duplicates and itself dropped
		"group_cascade_syscom": "",                      // off
		"group_cascade_web":    "www",
		"request_timeout":      "30s", // not ours
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Cascades{"office": {"cdrom", "www"}, "web": {"www"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse = %v", c)
	}
	if s := c.String(); s != "group_cascade_office = cdrom www\ngroup_cascade_web = www\n" {
		t.Errorf("String = %q", s)
	}
	for _, bad := range []map[string]string{
		{"group_cascade_Office": "x"},
		{"group_cascade_office": "cd;rom"},
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%v) accepted", bad)
		}
	}
}

// TestLoad: a missing file is legacy's cascades; a file's keys apply; a
// bad one is an error naming the file.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(filepath.Join(dir, File))
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("missing file: %v, %v", c, err)
	}
	path := filepath.Join(dir, File)
	os.WriteFile(path, []byte("request_timeout = 5\ngroup_cascade_office = staff\n"), 0o644)
	c, err = Load(path)
	if err != nil || !reflect.DeepEqual(c["office"], []string{"staff"}) || len(c["syscom"]) != 4 {
		t.Fatalf("Load = %v, %v", c, err)
	}
	os.WriteFile(path, []byte("group_cascade_office = Bad!\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a bad group: %v, want an error naming %s", err, path)
	}
}
