package terms

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Term
		ok   bool
	}{
		{"f2006", Term{2006, 'f'}, true},
		{"w2007", Term{2007, 'w'}, true},
		{"s0000", Term{0, 's'}, true},
		{"x2006", Term{}, false},
		{"F2006", Term{}, false},
		{"f206", Term{}, false},
		{"f20066", Term{}, false},
		{"f20a6", Term{}, false},
		{"f-206", Term{}, false},
		{"", Term{}, false},
		{" f2006", Term{}, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("Parse(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) error %v is not ErrMalformed", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("Parse(%q).String() = %q", tt.in, got.String())
		}
		if Valid(tt.in) != tt.ok {
			t.Errorf("Valid(%q) = %v", tt.in, !tt.ok)
		}
	}
}

// The legacy module's own self-test values.
func TestLegacyExamples(t *testing.T) {
	f2006 := MustParse("f2006")
	if got := f2006.Next().String(); got != "w2007" {
		t.Errorf("next(f2006) = %s", got)
	}
	if got := f2006.Prev().String(); got != "s2006" {
		t.Errorf("previous(f2006) = %s", got)
	}
	if got := Delta(f2006, MustParse("w2007")); got != 1 {
		t.Errorf("delta(f2006, w2007) = %d", got)
	}
	if got := Compare(f2006, MustParse("w2007")); got != -1 {
		t.Errorf("compare(f2006, w2007) = %d", got)
	}
	w2010 := MustParse("w2010")
	if got := f2006.Add(Delta(f2006, w2010)); got != w2010 {
		t.Errorf("add(f2006, delta(f2006, w2010)) = %s", got)
	}
	if got := Strings(Interval(f2006, 3)); !slices.Equal(got, []string{"f2006", "w2007", "s2007"}) {
		t.Errorf("interval(f2006, 3) = %v", got)
	}
	// 1166135779 is 2006-12-14 in any time zone.
	if got := Of(time.Unix(1166135779, 0)).String(); got != "f2006" {
		t.Errorf("from_timestamp(1166135779) = %s", got)
	}
}

func TestOf(t *testing.T) {
	tests := []struct {
		month time.Month
		want  byte
	}{
		{time.January, 'w'}, {time.April, 'w'},
		{time.May, 's'}, {time.August, 's'},
		{time.September, 'f'}, {time.December, 'f'},
	}
	for _, tt := range tests {
		for _, day := range []int{1, 28} {
			d := time.Date(2024, tt.month, day, 12, 0, 0, 0, time.UTC)
			if got := Of(d); got != (Term{2024, tt.want}) {
				t.Errorf("Of(%s) = %s, want %c2024", d.Format(time.DateOnly), got, tt.want)
			}
		}
	}
	// The last instant of April is still winter; the first of May spring.
	if got := Of(time.Date(2024, time.April, 30, 23, 59, 59, 0, time.UTC)); got.String() != "w2024" {
		t.Errorf("end of April = %s", got)
	}
	if got := Of(time.Date(2024, time.May, 1, 0, 0, 0, 0, time.UTC)); got.String() != "s2024" {
		t.Errorf("start of May = %s", got)
	}
	fixed := func() time.Time { return time.Date(2025, time.October, 3, 0, 0, 0, 0, time.UTC) }
	if got := Current(fixed).String(); got != "f2025" {
		t.Errorf("Current = %s", got)
	}
}

func TestOrder(t *testing.T) {
	in := []Term{MustParse("f2024"), MustParse("w2025"), MustParse("s2024"), MustParse("w2024"), MustParse("f2024")}
	got := Strings(Sorted(in))
	want := []string{"w2024", "s2024", "f2024", "w2025"}
	if !slices.Equal(got, want) {
		t.Fatalf("Sorted = %v, want %v", got, want)
	}
	if !MustParse("f2023").Before(MustParse("w2024")) || MustParse("w2024").Before(MustParse("f2023")) {
		t.Error("Before across a year boundary")
	}
	if m, ok := Max(in); !ok || m.String() != "w2025" {
		t.Errorf("Max = %v, %v", m, ok)
	}
	if _, ok := Max(nil); ok {
		t.Error("Max(nil) ok")
	}
}

func TestAddAcrossYears(t *testing.T) {
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"w2024", -1, "f2023"},
		{"w2024", -3, "w2023"},
		{"w2024", -4, "f2022"},
		{"f2024", 1, "w2025"},
		{"s2024", 6, "s2026"},
		{"s2024", 0, "s2024"},
		{"w0001", -3, "w0000"},
	}
	for _, tt := range tests {
		if got := MustParse(tt.from).Add(tt.n).String(); got != tt.want {
			t.Errorf("%s + %d = %s, want %s", tt.from, tt.n, got, tt.want)
		}
		if d := Delta(MustParse(tt.from), MustParse(tt.want)); d != tt.n {
			t.Errorf("Delta(%s, %s) = %d, want %d", tt.from, tt.want, d, tt.n)
		}
	}
}

func TestInterval(t *testing.T) {
	if got := Interval(MustParse("f2024"), 0); len(got) != 0 {
		t.Errorf("Interval(0) = %v", got)
	}
	if got := Interval(MustParse("f2024"), -2); len(got) != 0 {
		t.Errorf("Interval(-2) = %v", got)
	}
	if got := Strings(Interval(MustParse("s2024"), 4)); !slices.Equal(got, []string{"s2024", "f2024", "w2025", "s2025"}) {
		t.Errorf("Interval(s2024, 4) = %v", got)
	}
}

func TestNextUnregistered(t *testing.T) {
	cur := MustParse("f2024")
	tests := []struct {
		name string
		reg  []string
		want string
	}{
		{"never registered", nil, "f2024"},
		{"registered now", []string{"f2024"}, "w2025"},
		{"registered last term", []string{"s2024"}, "f2024"},
		{"lapsed", []string{"w2023", "f2022"}, "f2024"},
		{"pre-registered", []string{"s2025", "f2024", "w2025"}, "f2025"},
		{"gap before the latest", []string{"f2024", "s2025"}, "f2025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, bad := ParseAll(tt.reg)
			if len(bad) > 0 {
				t.Fatal(bad)
			}
			if got := NextUnregistered(reg, cur).String(); got != tt.want {
				t.Errorf("NextUnregistered(%v, %s) = %s, want %s", tt.reg, cur, got, tt.want)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	ts, bad := ParseAll([]string{"f2024", "junk", "w2025", "F2024"})
	if !slices.Equal(Strings(ts), []string{"f2024", "w2025"}) || !slices.Equal(bad, []string{"junk", "F2024"}) {
		t.Fatalf("ParseAll = %v, %v", ts, bad)
	}
	if !Contains(ts, MustParse("w2025")) || Contains(ts, MustParse("s2025")) {
		t.Error("Contains")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"f2024", "w0000", "s9999", "x", "f20244"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := Parse(s)
		if err != nil {
			return
		}
		if tm.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, tm.String())
		}
		if back := fromIndex(tm.Index()); back != tm {
			t.Fatalf("fromIndex(Index(%v)) = %v", tm, back)
		}
	})
}
