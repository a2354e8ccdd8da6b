package tui

import "testing"

func TestSplitLastWord(t *testing.T) {
	for _, tt := range []struct{ in, head, word string }{
		{"", "", ""},
		{"ali", "", "ali"},
		{"  ali ", "  ", "ali"},
		{"bob,ali", "bob,", "ali"},
		{"bob, carol,  al", "bob, carol,  ", "al"},
		{"bob,", "bob,", ""},
	} {
		head, word := splitLastWord(tt.in)
		if head != tt.head || word != tt.word {
			t.Errorf("splitLastWord(%q) = %q, %q; want %q, %q", tt.in, head, word, tt.head, tt.word)
		}
	}
}
