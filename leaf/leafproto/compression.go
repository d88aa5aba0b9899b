package leafproto

import (
	"fmt"
	"strings"
	"time"
)

// Compression modes, as nats-server spells them in configuration, INFO
// "compression" and CONNECT "compress_mode".
const (
	CompressionOff            = "off"
	CompressionAccept         = "accept" // compress only if the peer asks
	CompressionS2Auto         = "s2_auto"
	CompressionS2Uncompressed = "s2_uncompressed" // S2 framing, no compression
	CompressionS2Fast         = "s2_fast"
	CompressionS2Better       = "s2_better"
	CompressionS2Best         = "s2_best"
	// CompressionNotSupported is what an old peer's missing field means,
	// and a mode a server can be configured with to behave like one.
	CompressionNotSupported = "not supported"
)

// DefaultS2AutoRTTThresholds are nats-server's RTT bounds for s2_auto:
// up to 10ms uncompressed, up to 50ms fast, up to 100ms better, above best.
// Callers must not modify it.
var DefaultS2AutoRTTThresholds = []time.Duration{
	10 * time.Millisecond,
	50 * time.Millisecond,
	100 * time.Millisecond,
}

// ParseCompressionMode normalises a configured leafnode compression mode as
// nats-server does (validateAndNormalizeCompressionOption), case-insensitively:
// "on", "enabled" and "true" mean s2_auto, the leafnode default, as does an
// empty string; "off", "disabled" and "false" mean off; "auto", "fast",
// "better" and "best" may omit the "s2_" prefix; "not supported" may be
// spelled "not_supported". s2_uncompressed is not a configurable mode (only
// s2_auto picks it), so it is refused like anything unknown.
func ParseCompressionMode(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "on", "enabled", "true", "auto", "s2_auto":
		return CompressionS2Auto, nil
	case "off", "disabled", "false":
		return CompressionOff, nil
	case "accept":
		return CompressionAccept, nil
	case "fast", "s2_fast":
		return CompressionS2Fast, nil
	case "better", "s2_better":
		return CompressionS2Better, nil
	case "best", "s2_best":
		return CompressionS2Best, nil
	case "not supported", "not_supported":
		return CompressionNotSupported, nil
	}
	return "", fmt.Errorf("unsupported compression mode %q", s)
}

// NormalizeRTTThresholds validates configured s2_auto RTT thresholds as
// nats-server does: negatives count as 0, non-zero values must ascend, a 0
// disables its level (so [0, 0, 20ms] never uses uncompressed or fast),
// trailing zeros are dropped, and at most 4 and at least 1 must remain.
// An empty list means DefaultS2AutoRTTThresholds.
func NormalizeRTTThresholds(rtts []time.Duration) ([]time.Duration, error) {
	if len(rtts) == 0 {
		return DefaultS2AutoRTTThresholds, nil
	}
	var out []time.Duration
	for _, d := range rtts {
		d = max(d, 0)
		if d != 0 {
			for _, prev := range out {
				if d < prev {
					return nil, fmt.Errorf("RTT threshold values %v should be in ascending order", rtts)
				}
			}
		}
		out = append(out, d)
	}
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	switch {
	case len(out) > 4:
		return nil, fmt.Errorf("compression mode %q should have no more than 4 RTT thresholds: %v", CompressionS2Auto, rtts)
	case len(out) == 0:
		return nil, fmt.Errorf("compression mode %q requires at least one RTT threshold", CompressionS2Auto)
	}
	return out, nil
}

// NeedsCompression reports whether a side configured with mode negotiates
// compression at all (exchanges the compression INFO before CONNECT).
func NeedsCompression(mode string) bool {
	return mode != "" && mode != CompressionOff && mode != CompressionNotSupported
}

// SelectCompression returns the mode this side uses given its configured
// mode (local, normalised) and the one the peer announced in its INFO
// (remote), by nats-server's rules (selectCompressionMode):
//
//   - the peer announced nothing or "not supported" (an old server):
//     "not supported", no compression;
//   - the peer is off: off;
//   - the peer accepts: off if we only accept too, else our mode;
//   - the peer announced an s2 mode: ours, unless we only accept, then
//     the peer's (its s2_auto becomes s2_fast).
//
// The result may be s2_auto, which S2AutoMode resolves from the RTT. An
// unknown remote mode is an error with nats-server's text, which it sends
// as -ERR before closing.
func SelectCompression(local, remote string) (string, error) {
	if !knownMode(local) {
		return "", fmt.Errorf("unsupported compression mode %q", local)
	}
	switch remote {
	case "", CompressionNotSupported:
		return CompressionNotSupported, nil
	case CompressionOff:
		return CompressionOff, nil
	case CompressionAccept:
		if local == CompressionAccept {
			return CompressionOff, nil
		}
		return local, nil
	case CompressionS2Auto, CompressionS2Uncompressed, CompressionS2Fast, CompressionS2Better, CompressionS2Best:
		if local != CompressionAccept {
			return local, nil
		}
		if remote == CompressionS2Auto {
			return CompressionS2Fast, nil
		}
		return remote, nil
	}
	return "", fmt.Errorf("unsupported route compression mode %q", remote)
}

func knownMode(m string) bool {
	switch m {
	case CompressionOff, CompressionAccept, CompressionS2Auto, CompressionS2Uncompressed,
		CompressionS2Fast, CompressionS2Better, CompressionS2Best, CompressionNotSupported:
		return true
	}
	return false
}

// InfoCompressionMode is the "compression" a side puts in the INFO it sends
// to switch to S2: s2_auto when configured so (the peer then knows the
// level may change), else the selected mode (compressionModeForInfoProtocol).
func InfoCompressionMode(configured, selected string) string {
	if configured == CompressionS2Auto {
		return CompressionS2Auto
	}
	return selected
}

// S2AutoMode picks the S2 level for s2_auto from the link's RTT, as
// nats-server's selectS2AutoModeBasedOnRTT: the first threshold the RTT
// does not exceed gives uncompressed, fast, better or best by its position;
// above all of them, best when there are 3 or more thresholds, else the
// last one's level. Thresholds come from NormalizeRTTThresholds; nil means
// DefaultS2AutoRTTThresholds.
func S2AutoMode(rtt time.Duration, thresholds []time.Duration) string {
	if thresholds == nil {
		thresholds = DefaultS2AutoRTTThresholds
	}
	idx := -1
	for i, d := range thresholds {
		if rtt <= d {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = len(thresholds) - 1
		if len(thresholds) >= 3 {
			idx = 3
		}
	}
	switch idx {
	case 0:
		return CompressionS2Uncompressed
	case 1:
		return CompressionS2Fast
	case 2:
		return CompressionS2Better
	}
	return CompressionS2Best
}
