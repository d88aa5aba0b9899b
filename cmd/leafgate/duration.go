package main

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// maxSeconds bounds a plain number of seconds so that it fits a
// time.Duration (about 292 years) with room for rounding.
const maxSeconds = 9e9

// ParseDuration parses a duration in Go syntax ("500ms", "10s", "1m30s"),
// or a plain number, which is seconds ("10", "1.5"): nats-server reads a
// number without a unit as seconds for write_deadline, ping_interval and
// the timeouts, so a file written for it must not mean nanoseconds here.
// plain reports that s was a plain number.
func ParseDuration(s string) (d time.Duration, plain bool, err error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, false, errors.New("empty duration")
	}
	if isPlainNumber(t) {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return 0, true, fmt.Errorf("invalid duration %q", s)
		}
		d, err := secondsToDuration(f)
		return d, true, err
	}
	d, err = time.ParseDuration(t)
	if err != nil {
		return 0, false, fmt.Errorf("invalid duration %q (use a number of seconds or Go syntax such as 500ms, 10s, 2m)", s)
	}
	return d, false, nil
}

// isPlainNumber reports whether s is an optional sign, digits and an
// optional fraction: no unit, no exponent, nothing ParseFloat would also
// take ("inf", "1e3", "0x10").
func isPlainNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// secondsToDuration converts a number of seconds, rounding to the
// nanosecond.
func secondsToDuration(f float64) (time.Duration, error) {
	if math.IsNaN(f) || math.Abs(f) >= maxSeconds {
		return 0, fmt.Errorf("duration of %v seconds out of range", f)
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}

// plainSeconds reports whether a decoded config value is a duration
// without a unit: a YAML number, or a string holding a plain number (as
// environment variables and flags do).
func plainSeconds(data any) bool {
	switch v := data.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	case string:
		return isPlainNumber(strings.TrimSpace(v))
	}
	return false
}

// durationHook decodes time.Duration from Go syntax strings and from plain
// numbers, which are seconds, wherever the value came from (YAML, an
// environment variable or a flag).
func durationHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch v := data.(type) {
	case time.Duration:
		return v, nil
	case string:
		d, _, err := ParseDuration(v)
		return d, err
	case float64:
		return secondsToDuration(v)
	case float32:
		return secondsToDuration(float64(v))
	}
	rv := reflect.ValueOf(data)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return secondsToDuration(float64(rv.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return secondsToDuration(float64(rv.Uint()))
	}
	return data, nil
}
