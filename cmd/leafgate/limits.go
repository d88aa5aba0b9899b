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

// storeLimitHook decodes StoreLimit from percentages, and from sizes as
// sizeHook does.
func storeLimitHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[StoreLimit]() {
		return data, nil
	}
	if v, ok := data.(string); ok {
		return ParseStoreLimit(v)
	}
	b, err := sizeHook(nil, reflect.TypeFor[Size](), data)
	if err != nil {
		return nil, err
	}
	if size, ok := b.(Size); ok {
		return StoreLimit{Bytes: size}, nil
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

// storeReserve is the space reserve for a file store with disk bytes
// available to it (free plus what the store takes; 0 when unknown): what
// a purge of the largest file such a disk can hold needs for bbolt's
// free-page list (8 bytes per 4 KiB page), at least 1 MiB and at most
// 64 MiB. See jetstream.Config.Reserve.
func storeReserve(disk int64) int64 {
	return min(max(disk/512, 1<<20), 64<<20)
}
