package groups

import (
	"reflect"
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
