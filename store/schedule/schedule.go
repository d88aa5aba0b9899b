// Package schedule parses JetStream message schedule patterns (the value
// of a Nats-Schedule header) and computes when they fire next. It is a
// pure codec: strings and times in, times out; it knows nothing of
// streams, stores or clocks (callers pass "now").
//
// The patterns are nats-server 2.12's:
//
//	@at <RFC3339 time>   fires once (no time zone allowed)
//	@every <Go duration> repeats, at least one second apart (no time zone)
//	@yearly @annually @monthly @weekly @daily @midnight @hourly
//	<sec> <min> <hour> <day-of-month> <month> <day-of-week>
//
// The cron form has six fields, seconds first. A field is a comma list of
// "*", "?", "n", "a-b", each optionally "/step" ("n/step" means n-max);
// months and weekdays also take three-letter names. As in classic cron,
// when both day fields are restricted a day matching either fires; when
// either is "*" both must match.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind says how a pattern fires.
type Kind uint8

const (
	At    Kind = iota + 1 // once
	Every                 // on a fixed interval
	Cron                  // on a calendar
)

// Pattern is a parsed schedule.
type Pattern struct {
	kind  Kind
	at    time.Time
	every time.Duration
	cron  cronSpec
	loc   *time.Location // nil: UTC
}

// Kind reports how p fires.
func (p Pattern) Kind() Kind { return p.kind }

// Repeats reports whether p fires more than once.
func (p Pattern) Repeats() bool { return p.kind != At }

// Errors Parse returns; callers map them all to one wire error.
var (
	ErrEmpty        = errors.New("schedule: empty pattern")
	ErrZoneNotAllow = errors.New("schedule: time zone not allowed with @at or @every")
	ErrTooShort     = errors.New("schedule: @every interval below one second")
	ErrNoMatch      = errors.New("schedule: pattern never fires within five years")
)

// predefined maps the cron shorthands onto six-field patterns.
var predefined = map[string]string{
	"@yearly":   "0 0 0 1 1 *",
	"@annually": "0 0 0 1 1 *",
	"@monthly":  "0 0 0 1 * *",
	"@weekly":   "0 0 0 * * 0",
	"@daily":    "0 0 0 * * *",
	"@midnight": "0 0 0 * * *",
	"@hourly":   "0 0 * * * *",
}

// Parse parses a Nats-Schedule value. loc is the Nats-Schedule-Time-Zone
// location, nil when the header is absent.
func Parse(pattern string, loc *time.Location) (Pattern, error) {
	switch {
	case pattern == "":
		return Pattern{}, ErrEmpty
	case strings.HasPrefix(pattern, "@at "):
		if loc != nil {
			return Pattern{}, ErrZoneNotAllow
		}
		t, err := time.Parse(time.RFC3339, pattern[len("@at "):])
		if err != nil {
			return Pattern{}, fmt.Errorf("schedule: @at: %w", err)
		}
		return Pattern{kind: At, at: t}, nil
	case strings.HasPrefix(pattern, "@every "):
		if loc != nil {
			return Pattern{}, ErrZoneNotAllow
		}
		d, err := time.ParseDuration(pattern[len("@every "):])
		if err != nil {
			return Pattern{}, fmt.Errorf("schedule: @every: %w", err)
		}
		if d < time.Second {
			return Pattern{}, ErrTooShort
		}
		return Pattern{kind: Every, every: d}, nil
	}
	if full, ok := predefined[pattern]; ok {
		pattern = full
	}
	spec, err := parseCron(pattern)
	if err != nil {
		return Pattern{}, err
	}
	return Pattern{kind: Cron, cron: spec, loc: loc}, nil
}

// Next is when p fires after a reference time ref: the schedule message's
// own time when it is first stored, or the time it last fired. A
// repeating pattern whose next time is already behind now skips ahead to
// the first time after now, so a schedule missed while the server was
// down fires once, not once per missed interval. An @at fires at its
// time, even a past one. ok is false when a calendar never matches.
func (p Pattern) Next(ref, now time.Time) (next time.Time, ok bool) {
	switch p.kind {
	case At:
		return p.at, true
	case Every:
		next = ref.UTC().Round(time.Second).Add(p.every)
		if n := now.UTC(); next.Before(n) {
			next = n.Round(time.Second).Add(p.every)
		}
		return next, true
	case Cron:
		loc := p.loc
		if loc == nil {
			loc = time.UTC
		}
		next, ok = p.cron.after(ref, loc)
		if !ok {
			return time.Time{}, false
		}
		if n := now.UTC(); next.Before(n) {
			next, ok = p.cron.after(n.Round(time.Second), loc)
		}
		return next, ok
	}
	return time.Time{}, false
}

// --- cron

// cronSpec holds one bit set per field: bit n set means value n matches.
// The top bit of the day fields records a "*" (or "?") in the field.
type cronSpec struct {
	sec, min, hour, dom, month, dow uint64
}

const anyBit = uint64(1) << 63

type fieldRange struct {
	lo, hi uint
	names  map[string]uint
}

var (
	secRange   = fieldRange{0, 59, nil}
	minRange   = fieldRange{0, 59, nil}
	hourRange  = fieldRange{0, 23, nil}
	domRange   = fieldRange{1, 31, nil}
	monthRange = fieldRange{1, 12, map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dowRange = fieldRange{0, 6, map[string]uint{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

func parseCron(pattern string) (cronSpec, error) {
	f := strings.Fields(pattern)
	if len(f) != 6 {
		return cronSpec{}, fmt.Errorf("schedule: cron needs 6 fields, got %d", len(f))
	}
	var s cronSpec
	dst := []*uint64{&s.sec, &s.min, &s.hour, &s.dom, &s.month, &s.dow}
	rs := []fieldRange{secRange, minRange, hourRange, domRange, monthRange, dowRange}
	for i := range f {
		bits, err := parseField(f[i], rs[i])
		if err != nil {
			return cronSpec{}, err
		}
		if bits&^anyBit == 0 {
			// nats-server searches five years for such a field and then
			// fails; refusing it here gives the same answer at once.
			return cronSpec{}, fmt.Errorf("schedule: field %q matches nothing", f[i])
		}
		*dst[i] = bits
	}
	return s, nil
}

// parseField parses a comma list; empty items are skipped.
func parseField(field string, r fieldRange) (uint64, error) {
	var bits uint64
	for item := range strings.SplitSeq(field, ",") {
		if item == "" {
			continue
		}
		b, err := parseItem(item, r)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

// parseItem parses "*", "?", "n", "a-b", each with an optional "/step".
func parseItem(item string, r fieldRange) (uint64, error) {
	base, stepStr, hasStep := strings.Cut(item, "/")
	if strings.Contains(stepStr, "/") {
		return 0, fmt.Errorf("schedule: too many slashes in %q", item)
	}
	var lo, hi uint
	var star uint64
	single := false
	if base == "*" || base == "?" {
		lo, hi, star = r.lo, r.hi, anyBit
	} else {
		a, b, isRange := strings.Cut(base, "-")
		if strings.Contains(b, "-") {
			return 0, fmt.Errorf("schedule: too many hyphens in %q", item)
		}
		var err error
		if lo, err = parseValue(a, r); err != nil {
			return 0, err
		}
		hi, single = lo, !isRange
		if isRange {
			if hi, err = parseValue(b, r); err != nil {
				return 0, err
			}
		}
	}
	step := uint(1)
	if hasStep {
		n, err := parseNumber(stepStr)
		if err != nil {
			return 0, err
		}
		step = n
		if single {
			hi = r.hi // "n/step" runs from n to the field's end
		}
		if step > 1 {
			star = 0 // "*/2" restricts the field
		}
	}
	switch {
	case lo < r.lo:
		return 0, fmt.Errorf("schedule: %d below %d in %q", lo, r.lo, item)
	case hi > r.hi:
		return 0, fmt.Errorf("schedule: %d above %d in %q", hi, r.hi, item)
	case lo > hi:
		return 0, fmt.Errorf("schedule: range %d-%d is empty in %q", lo, hi, item)
	case step == 0:
		return 0, fmt.Errorf("schedule: step must be positive in %q", item)
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << v
	}
	return bits | star, nil
}

func parseValue(s string, r fieldRange) (uint, error) {
	if v, ok := r.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	return parseNumber(s)
}

func parseNumber(s string) (uint, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("schedule: %q is not a number", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("schedule: %d is negative", n)
	}
	return uint(n), nil
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

// dayOK applies the day-of-month / day-of-week rule.
func (s *cronSpec) dayOK(t time.Time) bool {
	d, w := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.dom&anyBit != 0 || s.dow&anyBit != 0 {
		return d && w
	}
	return d || w
}

// matches reports whether t (in its own location) is a firing second.
func (s *cronSpec) matches(t time.Time) bool {
	return has(s.month, int(t.Month())) && s.dayOK(t) && has(s.hour, t.Hour()) &&
		has(s.min, t.Minute()) && has(s.sec, t.Second())
}

// after is the first firing second strictly after ref, searched field by
// field from the largest: a field that does not match is advanced (the
// smaller fields reset to their start) until it does, and a wrap of a
// larger field restarts the search. It gives up after five years.
func (s *cronSpec) after(ref time.Time, loc *time.Location) (time.Time, bool) {
	t := ref.In(loc).Truncate(time.Second).Add(time.Second)
	limit := t.Year() + 5
	reset := false // smaller fields were reset to their start
restart:
	for t.Year() <= limit {
		for !has(s.month, int(t.Month())) {
			if !reset {
				reset = true
				t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
			}
			t = t.AddDate(0, 1, 0)
			if t.Month() == time.January {
				continue restart
			}
		}
		for !s.dayOK(t) {
			if !reset {
				reset = true
				t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
			}
			t = t.AddDate(0, 0, 1)
			if t.Day() == 1 {
				continue restart
			}
		}
		for !has(s.hour, t.Hour()) {
			if !reset {
				reset = true
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
			}
			t = t.Add(time.Hour)
			if t.Hour() == 0 {
				continue restart
			}
		}
		for !has(s.min, t.Minute()) {
			if !reset {
				reset = true
				t = t.Truncate(time.Minute)
			}
			t = t.Add(time.Minute)
			if t.Minute() == 0 {
				continue restart
			}
		}
		for !has(s.sec, t.Second()) {
			if !reset {
				reset = true
				t = t.Truncate(time.Second)
			}
			t = t.Add(time.Second)
			if t.Second() == 0 {
				continue restart
			}
		}
		return t, true
	}
	return time.Time{}, false
}
