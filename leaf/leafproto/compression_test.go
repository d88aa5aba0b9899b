package leafproto

import (
	"slices"
	"testing"
	"time"
)

func TestParseCompressionMode(t *testing.T) {
	// nats-server's validateAndNormalizeCompressionOption cases, with the
	// leafnode default for "on" (s2_auto) and for an empty setting.
	tests := []struct{ in, want string }{
		{"", CompressionS2Auto},
		{"on", CompressionS2Auto},
		{"ON", CompressionS2Auto},
		{"true", CompressionS2Auto},
		{"enabled", CompressionS2Auto},
		{"EnaBled", CompressionS2Auto},
		{"auto", CompressionS2Auto},
		{"s2_auto", CompressionS2Auto},
		{"off", CompressionOff},
		{"false", CompressionOff},
		{"disabled", CompressionOff},
		{"Disabled", CompressionOff},
		{"accept", CompressionAccept},
		{"fast", CompressionS2Fast},
		{"s2_fast", CompressionS2Fast},
		{"better", CompressionS2Better},
		{"S2_Better", CompressionS2Better},
		{"best", CompressionS2Best},
		{"s2_best", CompressionS2Best},
		{"not supported", CompressionNotSupported},
		{"not_supported", CompressionNotSupported},
	}
	for _, tt := range tests {
		got, err := ParseCompressionMode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"s2_uncompressed", "uncompressed", "gzip", "s2", " on"} {
		if got, err := ParseCompressionMode(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		} else if err.Error() != `unsupported compression mode "`+bad+`"` {
			t.Errorf("%q: error %q", bad, err)
		}
	}
}

// TestSelectCompression walks nats-server's selectCompressionMode branch
// by branch, for the local modes a side that negotiates can have.
func TestSelectCompression(t *testing.T) {
	const (
		off    = CompressionOff
		accept = CompressionAccept
		auto   = CompressionS2Auto
		unc    = CompressionS2Uncompressed
		fast   = CompressionS2Fast
		better = CompressionS2Better
		best   = CompressionS2Best
		ns     = CompressionNotSupported
	)
	tests := []struct{ local, remote, want string }{
		// An old peer, or one configured to act as one: no compression.
		{auto, "", ns},
		{fast, "", ns},
		{accept, "", ns},
		{auto, ns, ns},
		{best, ns, ns},
		// The peer is off.
		{auto, off, off},
		{fast, off, off},
		{accept, off, off},
		// The peer only accepts: ours, or off if we only accept too.
		{accept, accept, off},
		{auto, accept, auto},
		{unc, accept, unc},
		{fast, accept, fast},
		{better, accept, better},
		{best, accept, best},
		// The peer asks for a level: ours wins unless we only accept.
		{auto, fast, auto},
		{fast, auto, fast},
		{better, best, better},
		{best, unc, best},
		{unc, better, unc},
		{accept, auto, fast}, // accepting an s2_auto peer: fast
		{accept, unc, unc},
		{accept, fast, fast},
		{accept, better, better},
		{accept, best, best},
		// nats-server assumes local is neither off nor not supported; the
		// rules then give back the local mode for an s2 or accept peer.
		{off, fast, off},
		{ns, accept, ns},
	}
	for _, tt := range tests {
		got, err := SelectCompression(tt.local, tt.remote)
		if err != nil || got != tt.want {
			t.Errorf("local %q remote %q: %q, %v; want %q", tt.local, tt.remote, got, err, tt.want)
		}
	}
	if _, err := SelectCompression(auto, "s2_turbo"); err == nil || err.Error() != `unsupported route compression mode "s2_turbo"` {
		t.Errorf("unknown remote: %v", err)
	}
	if _, err := SelectCompression("enabled", fast); err == nil {
		t.Error("an unnormalised local mode was accepted")
	}
}

func TestNeedsCompression(t *testing.T) {
	for m, want := range map[string]bool{
		"": false, CompressionOff: false, CompressionNotSupported: false,
		CompressionAccept: true, CompressionS2Auto: true, CompressionS2Uncompressed: true,
		CompressionS2Fast: true, CompressionS2Better: true, CompressionS2Best: true,
	} {
		if got := NeedsCompression(m); got != want {
			t.Errorf("%q: %v", m, got)
		}
	}
}

func TestInfoCompressionMode(t *testing.T) {
	if got := InfoCompressionMode(CompressionS2Auto, CompressionS2Better); got != CompressionS2Auto {
		t.Errorf("configured auto: %q", got)
	}
	if got := InfoCompressionMode(CompressionAccept, CompressionS2Fast); got != CompressionS2Fast {
		t.Errorf("configured accept: %q", got)
	}
}

func TestS2AutoMode(t *testing.T) {
	ms := func(ds ...int) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			out = append(out, time.Duration(d)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		rtt        time.Duration
		thresholds []time.Duration
		want       string
	}{
		{0, nil, CompressionS2Uncompressed},
		{10 * time.Millisecond, nil, CompressionS2Uncompressed},
		{10*time.Millisecond + 1, nil, CompressionS2Fast},
		{50 * time.Millisecond, nil, CompressionS2Fast},
		{51 * time.Millisecond, nil, CompressionS2Better},
		{100 * time.Millisecond, nil, CompressionS2Better},
		{101 * time.Millisecond, nil, CompressionS2Best},
		{600 * time.Millisecond, DefaultS2AutoRTTThresholds, CompressionS2Best}, // satellite
		// nats-server's documented examples.
		{5 * time.Millisecond, ms(5, 10, 15, 20), CompressionS2Uncompressed},
		{7 * time.Millisecond, ms(5, 10, 15, 20), CompressionS2Fast},
		{15 * time.Millisecond, ms(5, 10, 15, 20), CompressionS2Better},
		{20 * time.Millisecond, ms(5, 10, 15, 20), CompressionS2Best},
		{25 * time.Millisecond, ms(5, 10, 15, 20), CompressionS2Best},
		{5 * time.Millisecond, ms(0, 0, 20), CompressionS2Better},
		{25 * time.Millisecond, ms(0, 0, 20), CompressionS2Best},
		// Fewer than 3 thresholds: above them all is the last one's level.
		{30 * time.Millisecond, ms(10, 20), CompressionS2Fast},
		{30 * time.Millisecond, ms(10), CompressionS2Uncompressed},
		{30 * time.Millisecond, ms(0, 20), CompressionS2Fast},
	}
	for _, tt := range tests {
		if got := S2AutoMode(tt.rtt, tt.thresholds); got != tt.want {
			t.Errorf("rtt %v thresholds %v: %q, want %q", tt.rtt, tt.thresholds, got, tt.want)
		}
	}
}

func TestNormalizeRTTThresholds(t *testing.T) {
	ms := func(ds ...int) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			out = append(out, time.Duration(d)*time.Millisecond)
		}
		return out
	}
	ok := []struct{ in, want []time.Duration }{
		{nil, DefaultS2AutoRTTThresholds},
		{ms(10, 20, 30), ms(10, 20, 30)},
		{ms(0, 0, 20, 30), ms(0, 0, 20, 30)},
		{ms(10, 0, 30), ms(10, 0, 30)},
		{ms(10, 20, 0, 0), ms(10, 20)},
		{ms(-5, 20), ms(0, 20)},
		{ms(10, 20, 30, 40, 0), ms(10, 20, 30, 40)},
	}
	for _, tt := range ok {
		got, err := NormalizeRTTThresholds(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v: %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range [][]time.Duration{ms(20, 10), ms(10, 0, 5), ms(0, 0), ms(-1), ms(1, 2, 3, 4, 5)} {
		if got, err := NormalizeRTTThresholds(bad); err == nil {
			t.Errorf("%v accepted as %v", bad, got)
		}
	}
}
