package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// recorder records handler calls as strings.
type recorder struct{ calls []string }

func (r *recorder) Connect(arg []byte) error {
	r.calls = append(r.calls, "CONNECT "+string(arg))
	return nil
}
func (r *recorder) Pub(subject, reply, hdr, payload []byte) error {
	h := "nil"
	if hdr != nil {
		h = fmt.Sprintf("%q", hdr)
	}
	r.calls = append(r.calls, fmt.Sprintf("PUB %s|%s|%s|%q", subject, reply, h, payload))
	return nil
}
func (r *recorder) Sub(subject, queue, sid []byte) error {
	r.calls = append(r.calls, fmt.Sprintf("SUB %s|%s|%s", subject, queue, sid))
	return nil
}
func (r *recorder) Unsub(sid []byte, max int) error {
	r.calls = append(r.calls, fmt.Sprintf("UNSUB %s|%d", sid, max))
	return nil
}
func (r *recorder) Ping() error { r.calls = append(r.calls, "PING"); return nil }
func (r *recorder) Pong() error { r.calls = append(r.calls, "PONG"); return nil }

func parseAll(input string, chunk func(int) int) ([]string, error) {
	var p Parser
	r := &recorder{}
	b := []byte(input)
	for len(b) > 0 {
		n := chunk(len(b))
		if err := p.Parse(b[:n], r); err != nil {
			return r.calls, err
		}
		b = b[n:]
	}
	return r.calls, nil
}

func whole(n int) int { return n }
func oneByte(int) int { return 1 }

func TestParseOps(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"PING\r\n", []string{"PING"}},
		{"ping\r\npong\r\n", []string{"PING", "PONG"}},
		{"PING\n", []string{"PING"}},
		{"CONNECT {\"verbose\":false}\r\n", []string{`CONNECT {"verbose":false}`}},
		{"PUB foo 5\r\nhello\r\n", []string{`PUB foo||nil|"hello"`}},
		{"pub foo bar 5\r\nhello\r\n", []string{`PUB foo|bar|nil|"hello"`}},
		{"PUB  foo\t bar   0\r\n\r\n", []string{`PUB foo|bar|nil|""`}},
		{"PUB foo 2\r\n\r\n\r\n", []string{`PUB foo||nil|"\r\n"`}},
		{"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", []string{`PUB foo||"NATS/1.0\r\n\r\n"|"hi"`}},
		{"HPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n", []string{`PUB foo|r|"NATS/1.0\r\n\r\n"|""`}},
		{"SUB foo 1\r\n", []string{"SUB foo||1"}},
		{"SUB foo q 1\r\n", []string{"SUB foo|q|1"}},
		{"sub foo.* q\t 22\r\n", []string{"SUB foo.*|q|22"}},
		{"UNSUB 1\r\n", []string{"UNSUB 1|0"}},
		{"UNSUB 1 10\r\n", []string{"UNSUB 1|10"}},
		{"SUB a 1\r\nPUB a 1\r\nx\r\nUNSUB 1\r\nPING\r\n", []string{"SUB a||1", `PUB a||nil|"x"`, "UNSUB 1|0", "PING"}},
	}
	for _, tt := range tests {
		for name, chunk := range map[string]func(int) int{"whole": whole, "bytewise": oneByte} {
			got, err := parseAll(tt.in, chunk)
			if err != nil {
				t.Errorf("%s %q: %v", name, tt.in, err)
				continue
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s %q:\n got %q\nwant %q", name, tt.in, got, tt.want)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := "SUB " + strings.Repeat("a", 5000) + " 1\r\n"
	tests := []struct {
		in   string
		want error
		text string
	}{
		{"FOO\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"PUBX foo 1\r\nx\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"PUB foo 3\r\nabcd\r\n", ErrPayloadEnd, ErrTextUnknownOp},
		{"PUB foo\r\n", ErrBadArgs, ""},
		{"PUB foo a b c\r\n", ErrBadArgs, ""},
		{"PUB foo -1\r\n", ErrBadArgs, ""},
		{"PUB foo 1x\r\n", ErrBadArgs, ""},
		{"HPUB foo 5 3\r\nabcde\r\n", ErrBadArgs, ""},
		{"SUB foo\r\n", ErrBadArgs, ""},
		{"SUB a b c d\r\n", ErrBadArgs, ""},
		{"UNSUB\r\n", ErrBadArgs, ""},
		{"UNSUB 1 x\r\n", ErrBadArgs, ""},
		{"PUB foo 2000000\r\n", ErrMaxPayload, ErrTextMaxPayload},
		{long, ErrMaxControlLine, ErrTextMaxControlLine},
		{strings.Repeat("x", 5000), ErrMaxControlLine, ErrTextMaxControlLine},
	}
	for _, tt := range tests {
		for name, chunk := range map[string]func(int) int{"whole": whole, "bytewise": oneByte} {
			_, err := parseAll(tt.in, chunk)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s %.40q: err = %v, want %v", name, tt.in, err, tt.want)
				continue
			}
			if got := ErrorText(err); got != tt.text {
				t.Errorf("%s %.40q: ErrorText = %q, want %q", name, tt.in, got, tt.text)
			}
		}
	}
}

func TestMaxPayloadCheckedBeforePayload(t *testing.T) {
	p := Parser{MaxPayload: 10}
	// Only the control line has arrived: the violation is reported now.
	if err := p.Parse([]byte("PUB foo 11\r\n"), &recorder{}); !errors.Is(err, ErrMaxPayload) {
		t.Fatalf("err = %v, want ErrMaxPayload", err)
	}
}

var errHandlerStop = errors.New("stop")

type stopper struct{ recorder }

func (s *stopper) Connect([]byte) error { return errHandlerStop }

func TestHandlerErrorStopsParsing(t *testing.T) {
	var p Parser
	s := &stopper{}
	err := p.Parse([]byte("PING\r\nCONNECT {}\r\nPING\r\n"), s)
	if err != errHandlerStop {
		t.Fatalf("err = %v, want the handler's error unchanged", err)
	}
	if !reflect.DeepEqual(s.calls, []string{"PING"}) {
		t.Fatalf("calls = %q: parsing went on after the error", s.calls)
	}
}

// streams used by the chunking test and as fuzz seeds.
var seedStreams = []string{
	"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\nPING\r\n",
	"SUB foo 1\r\nSUB bar q 2\r\nPUB foo 5\r\nhello\r\nPUB foo reply 0\r\n\r\nUNSUB 1 5\r\n",
	"HPUB foo 22 27\r\nNATS/1.0\r\nA: bcdefg\r\n\r\nworld\r\nPONG\r\n",
	"PUB foo 12\r\nhello\r\nworld\r\n",
	"PUB foo 1\r\nab\r\n",
	"SUB\r\n",
	"UNSUB 1 2 3\r\n",
	"PING",
	"PUB foo 99999999999\r\n",
	"HPUB foo 2 1\r\nab\r\n",
	"\x00\x01\r\n",
}

// TestChunkingIsInvisible feeds the same streams in random chunks and
// checks the handler sees exactly what it sees for the whole stream.
func TestChunkingIsInvisible(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range seedStreams {
		want, wantErr := parseAll(s, whole)
		for i := 0; i < 50; i++ {
			got, err := parseAll(s, func(n int) int { return 1 + r.IntN(n) })
			if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("%q chunked: calls %q err %v; whole: calls %q err %v", s, got, err, want, wantErr)
			}
		}
	}
}

func FuzzParser(f *testing.F) {
	for _, s := range seedStreams {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		want, wantErr := parseAll(string(data), whole)
		c := int(cut)%8 + 1
		got, err := parseAll(string(data), func(n int) int { return min(n, c) })
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunked calls %q, whole %q", got, want)
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("chunked err %v, whole err %v", err, wantErr)
		}
	})
}

func TestAppendMsg(t *testing.T) {
	got := AppendMsg(nil, []byte("foo"), []byte("1"), nil, []byte("hello"))
	if string(got) != "MSG foo 1 5\r\nhello\r\n" {
		t.Fatalf("%q", got)
	}
	got = AppendMsg(nil, []byte("foo"), []byte("1"), []byte("r"), nil)
	if string(got) != "MSG foo 1 r 0\r\n\r\n" {
		t.Fatalf("%q", got)
	}
	got = AppendHMsg(nil, []byte("foo"), []byte("2"), []byte("r"), []byte("NATS/1.0\r\n\r\n"), []byte("x"))
	if string(got) != "HMSG foo 2 r 12 13\r\nNATS/1.0\r\n\r\nx\r\n" {
		t.Fatalf("%q", got)
	}
	if got := AppendErr(nil, ErrTextAuthViolation); string(got) != "-ERR 'Authorization Violation'\r\n" {
		t.Fatalf("%q", got)
	}
	if got := AppendStatusHeader(nil, 503, ""); string(got) != "NATS/1.0 503\r\n\r\n" {
		t.Fatalf("%q", got)
	}
	if got := AppendStatusHeader(nil, 408, "Request Timeout"); string(got) != "NATS/1.0 408 Request Timeout\r\n\r\n" {
		t.Fatalf("%q", got)
	}
	if got := AppendStatusLine([]byte("x"), 100, "Idle Heartbeat"); string(got) != "xNATS/1.0 100 Idle Heartbeat\r\n" {
		t.Fatalf("%q", got)
	}
	if got := AppendStatusLine(nil, 503, ""); string(got) != "NATS/1.0 503\r\n" {
		t.Fatalf("%q", got)
	}
}

func TestInfoJSON(t *testing.T) {
	b := AppendInfo(nil, &Info{ServerID: "N1", Version: "2.11.0", Proto: 1, Headers: true, MaxPayload: 1024})
	if !bytes.HasPrefix(b, []byte("INFO {")) || !bytes.HasSuffix(b, []byte("}\r\n")) {
		t.Fatalf("%q", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b[5:len(b)-2], &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server_id", "server_name", "version", "proto", "go", "host", "port", "headers", "max_payload"} {
		if _, ok := m[k]; !ok {
			t.Errorf("INFO lacks %q", k)
		}
	}
	for _, k := range []string{"auth_required", "tls_required", "nonce", "ldm", "client_id"} {
		if _, ok := m[k]; ok {
			t.Errorf("INFO has %q though it is empty (nats-server omits it)", k)
		}
	}
}

func TestConnectJSONFromNatsGo(t *testing.T) {
	// What nats.go v1.55 sends.
	in := `{"verbose":false,"pedantic":false,"user":"u","pass":"p","tls_required":false,"name":"n","lang":"go","version":"1.55.0","protocol":1,"echo":true,"headers":true,"no_responders":true}`
	var c Connect
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := Connect{User: "u", Pass: "p", Name: "n", Lang: "go", Version: "1.55.0", Protocol: 1, Echo: true, Headers: true, NoResponders: true}
	if c != want {
		t.Fatalf("got %+v", c)
	}
}

func TestHeaderGet(t *testing.T) {
	hdr := []byte("NATS/1.0 503 No Responders\r\nNats-Msg-Id: abc\r\nX:  y \r\n\r\n")
	if got := HeaderGet(hdr, "Nats-Msg-Id"); string(got) != "abc" {
		t.Fatalf("Nats-Msg-Id = %q", got)
	}
	if got := HeaderGet(hdr, "X"); string(got) != "y" {
		t.Fatalf("X = %q", got)
	}
	if got := HeaderGet(hdr, "Missing"); got != nil {
		t.Fatalf("Missing = %q", got)
	}
	if got := HeaderStatus(hdr); string(got) != "503" {
		t.Fatalf("status = %q", got)
	}
	if got := HeaderStatus([]byte("NATS/1.0\r\n\r\n")); got != nil {
		t.Fatalf("status = %q", got)
	}
}

type nopHandler struct{}

func (nopHandler) Connect([]byte) error        { return nil }
func (nopHandler) Pub(_, _, _, _ []byte) error { return nil }
func (nopHandler) Sub(_, _, _ []byte) error    { return nil }
func (nopHandler) Unsub([]byte, int) error     { return nil }
func (nopHandler) Ping() error                 { return nil }
func (nopHandler) Pong() error                 { return nil }

func benchParsePub(b *testing.B, size int) {
	frame := fmt.Appendf(nil, "PUB bench.subject %d\r\n%s\r\n", size, bytes.Repeat([]byte("x"), size))
	buf := bytes.Repeat(frame, 64*1024/len(frame)+1)
	var p Parser
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(buf, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePub16(b *testing.B)   { benchParsePub(b, 16) }
func BenchmarkParsePub1024(b *testing.B) { benchParsePub(b, 1024) }

func BenchmarkAppendMsg(b *testing.B) {
	dst := make([]byte, 0, 4096)
	subj, sid, payload := []byte("bench.subject"), []byte("1"), make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendMsg(dst[:0], subj, sid, nil, payload)
	}
}

func TestHeaderLinesAndGet(t *testing.T) {
	hdr := []byte("NATS/1.0 408 Request Timeout\r\nA: 1\r\nNats-Pending-Messages: 3 \r\nA: 2\r\n\r\n")
	var lines []string
	for l := range HeaderLines(hdr) {
		lines = append(lines, string(l))
	}
	if want := []string{"A: 1", "Nats-Pending-Messages: 3 ", "A: 2"}; !slices.Equal(lines, want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	if v := HeaderGet(hdr, "Nats-Pending-Messages"); string(v) != "3" {
		t.Fatalf("HeaderGet = %q", v)
	}
	if v := HeaderGet(hdr, "A"); string(v) != "1" {
		t.Fatalf("HeaderGet of a repeated key = %q, want the first", v)
	}
	if v := HeaderGet([]byte("NATS/1.0"), "A"); v != nil {
		t.Fatalf("no CRLF: %q", v)
	}
	if n := testing.AllocsPerRun(100, func() { _ = HeaderGet(hdr, "A") }); n != 0 {
		t.Fatalf("HeaderGet allocates %v times", n)
	}
}
