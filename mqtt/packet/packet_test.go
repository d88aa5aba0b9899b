package packet_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/leafgate/leafgate/mqtt/packet"
	"github.com/leafgate/leafgate/mqtt/packet/packettest"
)

// decode runs Split and the type's decoder over b, as a session would.
func decode(v packet.Version, b []byte, maxSize int) (packet.Packet, error) {
	h, complete, err := packet.Split(b, maxSize)
	if err != nil {
		return nil, err
	}
	if !complete {
		return nil, fmt.Errorf("incomplete: header %+v, have %d bytes", h, len(b))
	}
	p := packet.New(h.Type)
	return p, p.Decode(v, b[:h.Len()])
}

func TestGolden(t *testing.T) {
	types := map[packet.Type]map[packet.Version]bool{}
	for _, g := range packettest.Table() {
		t.Run(g.Name, func(t *testing.T) {
			p, err := decode(g.Version, g.Bytes, 0)
			if err != nil {
				t.Fatalf("decode % X: %v", g.Bytes, err)
			}
			if !packettest.Equal(p, g.Packet) {
				t.Errorf("decoded\n%+v\nwant\n%+v", p, g.Packet)
			}
			if n := g.Packet.Len(g.Version); n != len(g.Bytes) {
				t.Errorf("Len = %d, want %d", n, len(g.Bytes))
			}
			if got := g.Packet.Append(nil, g.Version); !bytes.Equal(got, g.Bytes) {
				t.Errorf("Append\n got % X\nwant % X", got, g.Bytes)
			}
			// Appending after existing bytes leaves them alone.
			prefix := []byte{0xAA, 0xBB}
			if got := g.Packet.Append(prefix, g.Version); !bytes.Equal(got[:2], []byte{0xAA, 0xBB}) || !bytes.Equal(got[2:], g.Bytes) {
				t.Errorf("Append after a prefix: % X", got)
			}
		})
		if types[g.Packet.Type()] == nil {
			types[g.Packet.Type()] = map[packet.Version]bool{}
		}
		types[g.Packet.Type()][g.Version] = true
	}
	// Every packet type in every version it exists in.
	for ty := packet.CONNECT; ty <= packet.AUTH; ty++ {
		for _, v := range []packet.Version{packet.V311, packet.V5} {
			if ty == packet.AUTH && v == packet.V311 {
				continue
			}
			if !types[ty][v] {
				t.Errorf("golden table lacks %v in version %d", ty, v)
			}
		}
	}
}

// TestGoldenStream feeds every golden packet of a version, back to back,
// through Split one byte at a time, as a slow connection would deliver it.
func TestGoldenStream(t *testing.T) {
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		var stream []byte
		var want []packettest.Golden
		for _, g := range packettest.Table() {
			if g.Version == v {
				stream = append(stream, g.Bytes...)
				want = append(want, g)
			}
		}
		var buf []byte
		got := 0
		for i := range stream {
			buf = append(buf, stream[i])
			for {
				h, complete, err := packet.Split(buf, 0)
				if err != nil {
					t.Fatalf("v%d at byte %d: %v", v, i, err)
				}
				if h.HeaderLen > 0 && h.Len() != len(want[got].Bytes) {
					t.Fatalf("v%d packet %s: Split says %d bytes, want %d", v, want[got].Name, h.Len(), len(want[got].Bytes))
				}
				if !complete {
					break
				}
				p := packet.New(h.Type)
				if err := p.Decode(v, buf[:h.Len()]); err != nil {
					t.Fatalf("%s: %v", want[got].Name, err)
				}
				if !packettest.Equal(p, want[got].Packet) {
					t.Fatalf("%s: decoded %+v", want[got].Name, p)
				}
				buf = buf[h.Len():]
				got++
			}
		}
		if got != len(want) || len(buf) != 0 {
			t.Fatalf("v%d: decoded %d of %d packets, %d bytes left", v, got, len(want), len(buf))
		}
	}
}

func TestBad(t *testing.T) {
	for _, b := range packettest.BadTable() {
		t.Run(b.Name, func(t *testing.T) {
			_, err := decode(b.Version, b.Bytes, b.MaxSize)
			var pe *packet.Error
			if !errors.As(err, &pe) {
				t.Fatalf("% X: err = %v, want a *packet.Error", b.Bytes, err)
			}
			if pe.Code != b.Code || pe.Rule != b.Rule {
				t.Errorf("% X: got code %#x rule %q (%v), want %#x rule %q", b.Bytes, byte(pe.Code), pe.Rule, pe, byte(b.Code), b.Rule)
			}
			if !errors.Is(err, &packet.Error{Code: b.Code}) {
				t.Errorf("errors.Is by code failed for %v", err)
			}
		})
	}
}

// TestShortForms: 5.0 lets a DISCONNECT or an AUTH with reason code 0 and
// no properties have no body, and an acknowledgement drop its code. The
// encoder writes DISCONNECT's code anyway (see codePropsLen), but the
// decoder takes every form.
func TestShortForms(t *testing.T) {
	for _, b := range [][]byte{{0xE0, 0x00}, {0xE0, 0x01, 0x00}, {0xE0, 0x02, 0x00, 0x00}} {
		var d packet.Disconnect
		if err := d.Decode(packet.V5, b); err != nil || d.Code != 0 || !d.Props.Empty() {
			t.Errorf("% X: %v %+v", b, err, d)
		}
	}
	for _, b := range [][]byte{{0xF0, 0x00}, {0xF0, 0x01, 0x00}, {0xF0, 0x02, 0x00, 0x00}} {
		var a packet.Auth
		if err := a.Decode(packet.V5, b); err != nil || a.Code != 0 || !a.Props.Empty() {
			t.Errorf("% X: %v %+v", b, err, a)
		}
	}
	for _, b := range [][]byte{{0x40, 0x02, 0x00, 0x01}, {0x40, 0x03, 0x00, 0x01, 0x00}, {0x40, 0x04, 0x00, 0x01, 0x00, 0x00}} {
		var a packet.Ack
		if err := a.Decode(packet.V5, b); err != nil || a.Code != 0 || a.PacketID != 1 || !a.Props.Empty() {
			t.Errorf("% X: %v %+v", b, err, a)
		}
	}
}

func TestErrorsIs(t *testing.T) {
	_, err := decode(packet.V311, []byte{0x36, 0x03, 0, 1, 't'}, 0)
	if !errors.Is(err, packet.ErrMalformed) || errors.Is(err, packet.ErrProtocol) {
		t.Fatalf("QoS 3: %v", err)
	}
	_, err = decode(packet.V5, []byte{0x30, 0xFF, 0x7F}, 100)
	if !errors.Is(err, packet.ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if s := err.Error(); !strings.Contains(s, "packet too large") {
		t.Fatalf("message %q", s)
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		name      string
		in        []byte
		max       int
		headerLen int
		total     int
		complete  bool
	}{
		{"empty", nil, 0, 0, 0, false},
		{"one byte", []byte{0x30}, 0, 0, 0, false},
		{"length continues", []byte{0x30, 0x80}, 0, 0, 0, false},
		{"length continues 3", []byte{0x30, 0x80, 0x80, 0x80}, 0, 0, 0, false},
		{"header only", []byte{0x30, 0x05}, 0, 2, 7, false},
		{"two-byte length, no body", []byte{0x30, 0x80, 0x01}, 0, 3, 131, false},
		{"largest length", []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 0, 5, packet.MaxPacketSize, false},
		{"complete with next", []byte{0xC0, 0x00, 0xD0}, 0, 2, 2, true},
		{"exactly max", []byte{0x30, 0x03, 0x00, 0x01, 't'}, 5, 2, 5, true},
	}
	for _, c := range cases {
		h, complete, err := packet.Split(c.in, c.max)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if h.HeaderLen != c.headerLen || complete != c.complete || (c.headerLen > 0 && h.Len() != c.total) {
			t.Errorf("%s: got %+v complete=%v, want headerLen %d total %d complete %v", c.name, h, complete, c.headerLen, c.total, c.complete)
		}
	}
}

// TestDecodeDoesNotAllocate: a struct reused for the next packet decodes
// without allocating, whatever the packet holds.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, g := range packettest.Table() {
		p := packet.New(g.Packet.Type())
		if err := p.Decode(g.Version, g.Bytes); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(50, func() {
			if err := p.Decode(g.Version, g.Bytes); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.0f allocations per Decode", g.Name, allocs)
		}
	}
}

// TestAppendDoesNotAllocate: with room in dst, encoding allocates nothing.
func TestAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 1024)
	for _, g := range packettest.Table() {
		allocs := testing.AllocsPerRun(50, func() {
			buf = g.Packet.Append(buf[:0], g.Version)
			_ = g.Packet.Len(g.Version)
		})
		if allocs != 0 {
			t.Errorf("%s: %.0f allocations per Append", g.Name, allocs)
		}
	}
}

func TestSplitDoesNotAllocate(t *testing.T) {
	b := []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}
	if a := testing.AllocsPerRun(100, func() { _, _, _ = packet.Split(b, 1<<20) }); a != 0 {
		t.Fatalf("%.0f allocations per refused Split", a)
	}
}

// TestDecodeAliasesInput documents the lifetime rule: decoded bytes are
// views of the packet, and appending to them cannot overwrite what follows.
func TestDecodeAliasesInput(t *testing.T) {
	b := append([]byte{0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}, 0xC0, 0x00)
	var p packet.Publish
	if err := p.Decode(packet.V311, b[:9]); err != nil {
		t.Fatal(err)
	}
	b[4] = 'z'
	if string(p.Topic) != "z/b" {
		t.Fatalf("topic %q does not alias the input", p.Topic)
	}
	_ = append(p.Topic, 'X')
	_ = append(p.Payload, 'X')
	if !bytes.Equal(b[9:], []byte{0xC0, 0x00}) || b[7] != 'h' {
		t.Fatalf("append through a decoded slice wrote into the buffer: % X", b)
	}
}

// TestRoundTripVariants re-encodes each golden packet in the other version
// where the packet exists in both, and checks decode(encode(x)) keeps what
// that version can carry.
func TestRoundTripVariants(t *testing.T) {
	for _, g := range packettest.Table() {
		if g.Packet.Type() == packet.AUTH {
			continue
		}
		for _, v := range []packet.Version{packet.V311, packet.V5} {
			b := g.Packet.Append(nil, v)
			if len(b) != g.Packet.Len(v) {
				t.Errorf("%s as v%d: Len %d, encoded %d", g.Name, v, g.Packet.Len(v), len(b))
			}
			p, err := decode(v, b, 0)
			if err != nil {
				// Some values exist in one version only: a 5.0 refusal
				// code is not a 3.1.1 return code, a 5.0 alias-only
				// PUBLISH has no topic in 3.1.1, a 3.1.1 UNSUBACK has no
				// reason codes for 5.0.
				if v != g.Version {
					continue
				}
				t.Errorf("%s as v%d: % X: %v", g.Name, v, b, err)
				continue
			}
			if again := p.Append(nil, v); !bytes.Equal(again, b) {
				t.Errorf("%s as v%d: re-encoded % X, first % X", g.Name, v, again, b)
			}
		}
	}
}

// TestPropertyMatrix decodes every property identifier in every property
// context and checks it is accepted exactly where table 2-4 of MQTT 5.0
// allows it; the expected table here is written out independently.
func TestPropertyMatrix(t *testing.T) {
	const will = packet.WillProperties
	all := []packet.Type{will, packet.CONNECT, packet.CONNACK, packet.PUBLISH, packet.PUBACK, packet.PUBREC, packet.PUBREL,
		packet.PUBCOMP, packet.SUBSCRIBE, packet.SUBACK, packet.UNSUBSCRIBE, packet.UNSUBACK, packet.DISCONNECT, packet.AUTH}
	acks := []packet.Type{packet.CONNACK, packet.PUBACK, packet.PUBREC, packet.PUBREL, packet.PUBCOMP, packet.SUBACK, packet.UNSUBACK, packet.DISCONNECT, packet.AUTH}
	type spec struct {
		value []byte // an encoded valid value
		where []packet.Type
	}
	str := []byte{0, 1, 'x'}
	table := map[packet.PropID]spec{
		0x01: {[]byte{1}, []packet.Type{packet.PUBLISH, will}},
		0x02: {[]byte{0, 0, 0, 9}, []packet.Type{packet.PUBLISH, will}},
		0x03: {str, []packet.Type{packet.PUBLISH, will}},
		0x08: {str, []packet.Type{packet.PUBLISH, will}},
		0x09: {str, []packet.Type{packet.PUBLISH, will}},
		0x0B: {[]byte{0x81, 0x01}, []packet.Type{packet.PUBLISH, packet.SUBSCRIBE}},
		0x11: {[]byte{0, 0, 0, 9}, []packet.Type{packet.CONNECT, packet.CONNACK, packet.DISCONNECT}},
		0x12: {str, []packet.Type{packet.CONNACK}},
		0x13: {[]byte{0, 9}, []packet.Type{packet.CONNACK}},
		0x15: {str, []packet.Type{packet.CONNECT, packet.CONNACK, packet.AUTH}},
		0x16: {str, []packet.Type{packet.CONNECT, packet.CONNACK, packet.AUTH}},
		0x17: {[]byte{1}, []packet.Type{packet.CONNECT}},
		0x18: {[]byte{0, 0, 0, 9}, []packet.Type{will}},
		0x19: {[]byte{1}, []packet.Type{packet.CONNECT}},
		0x1A: {str, []packet.Type{packet.CONNACK}},
		0x1C: {str, []packet.Type{packet.CONNACK, packet.DISCONNECT}},
		0x1F: {str, acks},
		0x21: {[]byte{0, 9}, []packet.Type{packet.CONNECT, packet.CONNACK}},
		0x22: {[]byte{0, 9}, []packet.Type{packet.CONNECT, packet.CONNACK}},
		0x23: {[]byte{0, 9}, []packet.Type{packet.PUBLISH}},
		0x24: {[]byte{1}, []packet.Type{packet.CONNACK}},
		0x25: {[]byte{1}, []packet.Type{packet.CONNACK}},
		0x26: {[]byte{0, 1, 'k', 0, 1, 'v'}, all},
		0x27: {[]byte{0, 0, 0, 9}, []packet.Type{packet.CONNECT, packet.CONNACK}},
		0x28: {[]byte{1}, []packet.Type{packet.CONNACK}},
		0x29: {[]byte{1}, []packet.Type{packet.CONNACK}},
		0x2A: {[]byte{1}, []packet.Type{packet.CONNACK}},
	}
	for id := 0; id < 0x80; id++ {
		sp, known := table[packet.PropID(id)]
		value := sp.value
		if !known {
			value = []byte{0}
		}
		for _, ctx := range all {
			allowed := false
			for _, w := range sp.where {
				allowed = allowed || w == ctx
			}
			block := append([]byte{byte(1 + len(value)), byte(id)}, value...)
			var p packet.Properties
			n, err := p.Decode(block, ctx)
			if allowed != (err == nil) || packet.Allowed(packet.PropID(id), ctx) != allowed {
				t.Errorf("property %#x in %v: err %v, Allowed %v; want allowed=%v", id, ctx, err, packet.Allowed(packet.PropID(id), ctx), allowed)
				continue
			}
			if !allowed {
				if !errors.Is(err, packet.ErrMalformed) {
					t.Errorf("property %#x in %v: %v, want Malformed Packet", id, ctx, err)
				}
				continue
			}
			if n != len(block) || !p.Has(packet.PropID(id)) {
				t.Errorf("property %#x in %v: consumed %d of %d, Has %v", id, ctx, n, len(block), p.Has(packet.PropID(id)))
			}
			if got := p.Append(nil); !bytes.Equal(got, block) {
				t.Errorf("property %#x in %v: re-encoded % X, want % X", id, ctx, got, block)
			}
			// Twice: fine only for user properties, and subscription
			// identifiers in PUBLISH.
			twice := append([]byte{byte(2 + 2*len(value)), byte(id)}, value...)
			twice = append(append(twice, byte(id)), value...)
			_, err = p.Decode(twice, ctx)
			repeatable := id == 0x26 || (id == 0x0B && ctx == packet.PUBLISH)
			if repeatable != (err == nil) {
				t.Errorf("property %#x twice in %v: err %v", id, ctx, err)
			} else if !repeatable && !errors.Is(err, packet.ErrProtocol) {
				t.Errorf("property %#x twice in %v: %v, want Protocol Error", id, ctx, err)
			}
		}
	}
}

func TestUserPropertiesKeepOrder(t *testing.T) {
	var p packet.Properties
	for i := 0; i < 5; i++ {
		p.User = append(p.User, packet.UserProperty{Key: []byte("k"), Value: []byte(strconv.Itoa(i))})
	}
	b := p.Append(nil)
	var q packet.Properties
	if _, err := q.Decode(b, packet.PUBLISH); err != nil {
		t.Fatal(err)
	}
	for i, u := range q.User {
		if string(u.Key) != "k" || string(u.Value) != strconv.Itoa(i) {
			t.Fatalf("user property %d = %s:%s", i, u.Key, u.Value)
		}
	}
	if len(q.User) != 5 {
		t.Fatalf("%d user properties", len(q.User))
	}
}

func TestCheckPayloadFormat(t *testing.T) {
	var p packet.Properties
	if err := packet.CheckPayloadFormat(&p, []byte{0xFF}); err != nil {
		t.Fatalf("no indicator: %v", err)
	}
	p.PayloadFormat = 1
	p.Set(packet.PropPayloadFormat)
	if err := packet.CheckPayloadFormat(&p, []byte("héllo\x00")); err != nil {
		t.Fatalf("valid UTF-8: %v", err)
	}
	for _, bad := range [][]byte{{0xFF}, {0xED, 0xA0, 0x80}, {0xC0, 0x80}} {
		if err := packet.CheckPayloadFormat(&p, bad); !errors.Is(err, packet.ErrPayloadFormat) {
			t.Fatalf("% X: %v", bad, err)
		}
	}
}

func TestTopicChecks(t *testing.T) {
	goodFilters := []string{"#", "+", "a", "/", "a/+/b", "+/+", "a/#", "/#", "$SYS/#", "a//b", "$share/g/#", "$share/g/a/+", "sport/tennis/+", "$share/g//"}
	badFilters := []string{"", "a#", "a/#/b", "a+", "+a", "a/b+/c", "##", "$share/", "$share/g", "$share//a", "$share/+/a", "$share/g/", "$share/g/a#"}
	for _, f := range goodFilters {
		if err := packet.CheckTopicFilter([]byte(f)); err != nil {
			t.Errorf("filter %q: %v", f, err)
		}
	}
	for _, f := range badFilters {
		if err := packet.CheckTopicFilter([]byte(f)); err == nil {
			t.Errorf("filter %q accepted", f)
		}
	}
	for _, n := range []string{"a", "/", "a/b", "$SYS/x", " "} {
		if err := packet.CheckTopicName([]byte(n)); err != nil {
			t.Errorf("name %q: %v", n, err)
		}
	}
	for _, n := range []string{"", "a/+", "#", "a/#"} {
		if err := packet.CheckTopicName([]byte(n)); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	g, f, ok := packet.SplitShared([]byte("$share/grp/a/b"))
	if !ok || string(g) != "grp" || string(f) != "a/b" {
		t.Errorf("SplitShared: %q %q %v", g, f, ok)
	}
	if _, f, ok := packet.SplitShared([]byte("a/b")); ok || string(f) != "a/b" {
		t.Errorf("SplitShared of a plain filter")
	}
}

func TestValidUTF8(t *testing.T) {
	good := []string{"", "abc", "h\u00e9", "\uFEFFbom", "\U0001F600", "\x01ctl", "\uFFFF"}
	bad := []string{"\x00", "a\x00", "\xED\xA0\x80", "\xC0\x80", "\xF4\x90\x80\x80", "\xFF", "é\x00"}
	for _, s := range good {
		if !packet.ValidUTF8([]byte(s)) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if packet.ValidUTF8([]byte(s)) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestV3ConnackCode(t *testing.T) {
	for code, want := range map[packet.ReasonCode]byte{
		packet.Success: 0, packet.UnsupportedProtocolVersion: 1, packet.ClientIdentifierNotValid: 2,
		packet.ServerUnavailable: 3, packet.BadUserNameOrPassword: 4, packet.NotAuthorized: 5,
	} {
		if got, ok := code.V3ConnackCode(); !ok || got != want {
			t.Errorf("%v: %d %v, want %d", code, got, ok, want)
		}
	}
	if _, ok := packet.MalformedPacket.V3ConnackCode(); ok {
		t.Errorf("malformed packet has no 3.1.1 CONNACK code")
	}
}

func TestConnectVersionOnError(t *testing.T) {
	var c packet.Connect
	err := c.Decode(0, packettest.BadTable()[0].Bytes)
	if err == nil || c.Version != 0 {
		t.Fatalf("type-0: %v, version %d", err, c.Version)
	}
	for _, b := range packettest.BadTable() {
		if b.Name == "connect/level-6" || b.Name == "connect/mqisdp-3.1" {
			if err := c.Decode(0, b.Bytes); !errors.Is(err, packet.ErrUnsupportedVersion) {
				t.Fatalf("%s: %v", b.Name, err)
			}
			if code, ok := packet.UnsupportedProtocolVersion.V3ConnackCode(); !ok || code != 1 {
				t.Fatalf("no 3.1.1 code")
			}
			if c.Version != 6 && c.Version != 3 {
				t.Fatalf("%s: Version %d", b.Name, c.Version)
			}
		}
		if b.Name == "connect/5-receive-maximum-0" {
			if err := c.Decode(0, b.Bytes); err == nil || c.Version != packet.V5 {
				t.Fatalf("%s: %v version %d", b.Name, err, c.Version)
			}
		}
	}
}

// TestImportsOnlyStdlib keeps the codec a leaf package.
func TestImportsOnlyStdlib(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.Split(p, "/")[0], ".") {
				t.Errorf("%s imports %s: package packet imports only the standard library", f, p)
			}
		}
	}
}

func TestAppendRefusal(t *testing.T) {
	cases := []struct {
		name       string
		v          packet.Version
		connecting bool
		bad        string // a BadTable entry
		want       []byte
	}{
		{"v5 connect protocol error", packet.V5, true, "connect/5-receive-maximum-0", []byte{0x20, 0x03, 0x00, 0x82, 0x00}},
		{"level 6 gets a 3.1.1 CONNACK 0x01", 6, true, "connect/level-6", []byte{0x20, 0x02, 0x00, 0x01}},
		{"3.1 gets a 3.1.1 CONNACK 0x01", packet.V31, true, "connect/mqisdp-3.1", []byte{0x20, 0x02, 0x00, 0x01}},
		{"3.1.1 empty client id gets 0x02", packet.V311, true, "connect/311-empty-client-id-no-clean", []byte{0x20, 0x02, 0x00, 0x02}},
		{"3.1.1 malformed connect: silence", packet.V311, true, "connect/reserved-flag", nil},
		{"unknown protocol name: silence", 0, true, "connect/protocol-name", nil},
		{"v5 publish malformed", packet.V5, false, "publish/topic-plus", []byte{0xE0, 0x01, 0x81}},
		{"v5 too large", packet.V5, false, "header/too-large", []byte{0xE0, 0x01, 0x95}},
		{"3.1.1 after connect: silence", packet.V311, false, "publish/topic-plus", nil},
	}
	bad := map[string][]byte{}
	maxSize := map[string]int{}
	for _, b := range packettest.BadTable() {
		bad[b.Name], maxSize[b.Name] = b.Bytes, b.MaxSize
	}
	for _, c := range cases {
		raw, ok := bad[c.bad]
		if !ok {
			t.Fatalf("%s: no bad packet %q", c.name, c.bad)
		}
		_, err := decode(c.v, raw, maxSize[c.bad])
		if err == nil {
			t.Fatalf("%s: decoded", c.name)
		}
		if c.connecting {
			var conn packet.Connect
			_ = conn.Decode(0, raw)
			if conn.Version != c.v {
				t.Fatalf("%s: Connect.Version %d, test says %d", c.name, conn.Version, c.v)
			}
		}
		got := packet.AppendRefusal(nil, c.v, c.connecting, err)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: % X, want % X", c.name, got, c.want)
		}
	}
}

// TestRemainingLengthBoundaries encodes PUBLISH packets whose remaining
// length sits on each side of every Variable Byte Integer size change, and
// checks the header, Len, Split and a decode.
func TestRemainingLengthBoundaries(t *testing.T) {
	for _, rl := range []int{0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000} {
		for _, v := range []packet.Version{packet.V311, packet.V5} {
			overhead := 3 // topic "t"
			if v == packet.V5 {
				overhead++ // property length
			}
			p := &packet.Publish{Topic: []byte("t"), Payload: make([]byte, rl-overhead)}
			b := p.Append(nil, v)
			wantHeader := 2
			switch {
			case rl >= 0x200000:
				wantHeader = 5
			case rl >= 0x4000:
				wantHeader = 4
			case rl >= 0x80:
				wantHeader = 3
			}
			if len(b) != rl+wantHeader || p.Len(v) != len(b) {
				t.Fatalf("rl %d v%d: encoded %d bytes, Len %d, want %d", rl, v, len(b), p.Len(v), rl+wantHeader)
			}
			h, complete, err := packet.Split(b, 0)
			if err != nil || !complete || h.Remaining != rl || h.HeaderLen != wantHeader {
				t.Fatalf("rl %d: Split %+v %v %v", rl, h, complete, err)
			}
			if _, _, err := packet.Split(b, len(b)-1); !errors.Is(err, packet.ErrTooLarge) {
				t.Fatalf("rl %d: one byte over the limit: %v", rl, err)
			}
			var q packet.Publish
			if err := q.Decode(v, b); err != nil || len(q.Payload) != rl-overhead {
				t.Fatalf("rl %d: decode %v, payload %d", rl, err, len(q.Payload))
			}
		}
	}
}

// TestOversizedStringsKeepFraming: a string longer than MaxString is a
// caller's bug; the encoder cuts it rather than write a packet whose
// lengths disagree.
func TestOversizedStringsKeepFraming(t *testing.T) {
	long := bytes.Repeat([]byte("a"), packet.MaxString+10)
	p := &packet.Publish{Topic: long, Payload: []byte("x")}
	p.Props.User = []packet.UserProperty{{Key: long, Value: []byte("v")}}
	b := p.Append(nil, packet.V5)
	if len(b) != p.Len(packet.V5) {
		t.Fatalf("Len %d, encoded %d", p.Len(packet.V5), len(b))
	}
	var q packet.Publish
	if err := q.Decode(packet.V5, b); err != nil || len(q.Topic) != packet.MaxString || string(q.Payload) != "x" {
		t.Fatalf("decode: %v, topic %d", err, len(q.Topic))
	}
}

func TestNames(t *testing.T) {
	if packet.PUBLISH.String() != "PUBLISH" || packet.Type(16).String() != "type 16" {
		t.Errorf("type names")
	}
	if packet.QuotaExceeded.String() != "quota exceeded" || packet.ReasonCode(0x7F).String() != "reason code 0x7f" {
		t.Errorf("reason names")
	}
	if !packet.NotAuthorized.IsError() || packet.GrantedQoS2.IsError() {
		t.Errorf("IsError")
	}
	var p packet.Properties
	p.Set(packet.PropMaximumQoS)
	p.Set(packet.PropUserProperty) // ignored: present by being in User
	if !p.Has(packet.PropMaximumQoS) || p.Has(packet.PropUserProperty) {
		t.Errorf("Set")
	}
	p.Clear(packet.PropMaximumQoS)
	if !p.Empty() {
		t.Errorf("Clear")
	}
}
