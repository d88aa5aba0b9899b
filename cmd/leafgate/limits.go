package main

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// StoreLimit caps what JetStream may store in memory or on disk: a size,
// or a percentage of the physical memory or of the disk space free at
// start-up ("75%", nats-server's defaults). The zero value is unlimited.
type StoreLimit struct {
	Bytes   Size
	Percent int // 1-100; Bytes is 0 when set
}

// ParseStoreLimit parses "75%", "2GB", "1048576" or "0".
func ParseStoreLimit(s string) (StoreLimit, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 100 {
			return StoreLimit{}, fmt.Errorf("invalid percentage %q (1%% to 100%%)", s)
		}
		return StoreLimit{Percent: n}, nil
	}
	b, err := ParseSize(t)
	if err != nil {
		return StoreLimit{}, err
	}
	return StoreLimit{Bytes: b}, nil
}

func (l StoreLimit) String() string {
	if l.Percent > 0 {
		return strconv.Itoa(l.Percent) + "%"
	}
	return strconv.FormatInt(int64(l.Bytes), 10)
}

// storeLimitHook decodes StoreLimit from strings and numbers.
func storeLimitHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[StoreLimit]() {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return ParseStoreLimit(v)
	case int:
		return StoreLimit{Bytes: Size(v)}, nil
	case int64:
		return StoreLimit{Bytes: Size(v)}, nil
	case float64:
		if v != float64(int64(v)) {
			return nil, fmt.Errorf("invalid size %v", v)
		}
		return StoreLimit{Bytes: Size(int64(v))}, nil
	}
	return data, nil
}

// resolve turns the limit into bytes (0: unlimited) given the amount a
// percentage applies to; total reports 0 when it cannot tell, and then a
// percentage is no limit at all.
func (l StoreLimit) resolve(total func() (int64, error)) (int64, error) {
	if l.Percent == 0 {
		return int64(l.Bytes), nil
	}
	t, err := total()
	if err != nil {
		return 0, err
	}
	if t <= 0 {
		return 0, errors.New("size unknown")
	}
	if t > math.MaxInt64/100 {
		return t / 100 * int64(l.Percent), nil
	}
	return t * int64(l.Percent) / 100, nil
}
