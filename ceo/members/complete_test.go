package members_test

import (
	"slices"
	"testing"

	"github.com/csclub/ceo/ceo/internal/ceotest"
)

// TestCompleteUsers: user names by prefix, sorted, at most limit; a
// filter character in the prefix is taken literally.
func TestCompleteUsers(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	for i, uid := range []string{"cmpalice", "cmpalicia", "cmpbob"} {
		ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: uid, UIDNumber: 26501 + i})
	}
	d := ceotest.Directory(t, r, "regular1")
	ctx := t.Context()
	for _, tt := range []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"cmpali", 10, []string{"cmpalice", "cmpalicia"}},
		{"cmpalice", 10, []string{"cmpalice"}},
		{"cmp", 10, []string{"cmpalice", "cmpalicia", "cmpbob"}},
		{"cmp", 2, nil}, // two of the three, whichever the server sends first
		{"cmpz", 10, nil},
		{"*", 10, nil},
		{"", 10, nil},
	} {
		got, err := d.CompleteUsers(ctx, tt.prefix, tt.limit)
		if err != nil {
			t.Fatalf("CompleteUsers(%q, %d): %v", tt.prefix, tt.limit, err)
		}
		if tt.prefix == "cmp" && tt.limit == 2 {
			if len(got) != 2 {
				t.Errorf("CompleteUsers(cmp, 2) = %v, want two", got)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("CompleteUsers(%q, %d) = %v, want %v", tt.prefix, tt.limit, got, tt.want)
		}
	}
}
