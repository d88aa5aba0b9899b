package schedule

import (
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseErrors(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	for _, tc := range []struct {
		pattern string
		loc     *time.Location
		ok      bool
	}{
		{"", nil, false},
		{"@at 2026-01-02T03:04:05Z", nil, true},
		{"@at 2026-01-02T03:04:05.5+01:00", nil, true},
		{"@at 2026-01-02T03:04:05Z", ny, false},
		{"@at tomorrow", nil, false},
		{"@at", nil, false},
		{"@every 1s", nil, true},
		{"@every 999ms", nil, false},
		{"@every 1s", ny, false},
		{"@every soon", nil, false},
		{"@hourly", nil, true},
		{"@hourly", ny, true},
		{"@daily", nil, true},
		{"@midnight", nil, true},
		{"@weekly", nil, true},
		{"@monthly", nil, true},
		{"@yearly", nil, true},
		{"@annually", nil, true},
		{"@fortnightly", nil, false},
		{"* * * * *", nil, false},
		{"* * * * * * *", nil, false},
		{"* * * * * *", nil, true},
		{"0 */5 * * * *", nil, true},
		{"0 5/15 9-17 * jan-mar mon-fri", nil, true},
		{"0 0 0 ? * SUN", nil, true},
		{"60 * * * * *", nil, false},
		{"* * 24 * * *", nil, false},
		{"* * * 0 * *", nil, false},
		{"* * * * 13 * ", nil, false},
		{"* * * * * 7", nil, false},
		{"5-1 * * * * *", nil, false},
		{"1-2-3 * * * * *", nil, false},
		{"*/0 * * * * *", nil, false},
		{"*/1/2 * * * * *", nil, false},
		{"-1 * * * * *", nil, false},
		{"x * * * * *", nil, false},
		{", * * * * *", nil, false},
		{"1,,2 * * * * *", nil, true},
	} {
		_, err := Parse(tc.pattern, tc.loc)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q, %v) = %v, want ok=%v", tc.pattern, tc.loc, err, tc.ok)
		}
	}
}

func TestNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	for _, tc := range []struct {
		pattern  string
		loc      *time.Location
		ref, now string
		want     string
		repeats  bool
	}{
		// @at fires at its time, past or not.
		{"@at 2026-03-01T10:00:00Z", nil, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-03-01T10:00:00Z", false},
		{"@at 2020-03-01T10:00:00+02:00", nil, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2020-03-01T10:00:00+02:00", false},
		// @every counts from the reference rounded to the second...
		{"@every 5s", nil, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z", true},
		// ...unless that is past, then from now.
		{"@every 5s", nil, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:00:05Z", true},
		{"@every 1m", nil, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", true},
		// Cron: strictly after the reference.
		{"@hourly", nil, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", true},
		{"@hourly", nil, "2026-01-01T10:59:59Z", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", true},
		{"@daily", nil, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z", true},
		{"@weekly", nil, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-04T00:00:00Z", true}, // a Sunday
		{"@monthly", nil, "2026-01-31T10:00:00Z", "2026-01-01T10:00:00Z", "2026-02-01T00:00:00Z", true},
		{"@yearly", nil, "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", true},
		{"*/15 * * * * *", nil, "2026-01-01T00:00:14Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:15Z", true},
		{"*/15 * * * * *", nil, "2026-01-01T00:00:45Z", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", true},
		{"30 5/15 9-17 * * mon-fri", nil, "2026-01-02T17:50:31Z", "2026-01-01T00:00:00Z", "2026-01-05T09:05:30Z", true},
		// Both day fields restricted: either matches (the 13th or a Friday).
		{"0 0 0 13 * fri", nil, "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-02-06T00:00:00Z", true},
		{"0 0 0 13 * *", nil, "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-02-13T00:00:00Z", true},
		{"0 0 0 29 feb *", nil, "2026-03-01T00:00:00Z", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z", true},
		// Past: skip ahead to after now.
		{"0 0 * * * *", nil, "2026-01-01T00:00:00Z", "2026-01-01T05:30:00Z", "2026-01-01T06:00:00Z", true},
		// Time zone: midnight in New York.
		{"@daily", ny, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00-05:00", true},
	} {
		p, err := Parse(tc.pattern, tc.loc)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.pattern, err)
		}
		if p.Repeats() != tc.repeats {
			t.Errorf("%q repeats %v", tc.pattern, p.Repeats())
		}
		got, ok := p.Next(mustTime(t, tc.ref), mustTime(t, tc.now))
		want := mustTime(t, tc.want)
		if !ok || !got.Equal(want) {
			t.Errorf("%q from %s (now %s) = %s %v, want %s", tc.pattern, tc.ref, tc.now, got.Format(time.RFC3339Nano), ok, tc.want)
		}
		if tc.loc != nil && got.Location() != tc.loc {
			t.Errorf("%q: next in %v, want %v", tc.pattern, got.Location(), tc.loc)
		}
	}
}

func TestNextNeverMatches(t *testing.T) {
	p, err := Parse("0 0 0 30 feb *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := p.Next(mustTime(t, "2026-01-01T00:00:00Z"), mustTime(t, "2026-01-01T00:00:00Z")); ok {
		t.Fatalf("Feb 30 fires at %s", next)
	}
}

// FuzzParse checks that no pattern panics and that a cron's next time is
// a matching second after the reference.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"@at 2026-01-02T03:04:05Z", "@every 1s", "@hourly", "* * * * * *",
		"0 5/15 9-17 * jan-mar mon-fri", "0 0 0 13 * fri", "1,,2 */7 ? 31 * *", "0 0 0 30 feb *",
	} {
		f.Add(s, int64(1767225600))
	}
	f.Fuzz(func(t *testing.T, pattern string, sec int64) {
		p, err := Parse(pattern, nil)
		if err != nil {
			return
		}
		ref := time.Unix(sec%(1<<34), 0).UTC()
		next, ok := p.Next(ref, ref)
		if !ok || p.Kind() != Cron {
			return
		}
		if !next.After(ref) {
			t.Fatalf("%q: next %s not after %s", pattern, next, ref)
		}
		if !p.cron.matches(next) {
			t.Fatalf("%q: next %s does not match", pattern, next)
		}
	})
}
