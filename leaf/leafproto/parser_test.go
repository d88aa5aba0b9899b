package leafproto

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// recorder records handler calls as strings; nil and empty slices print
// differently so tests see which one the parser passed.
type recorder struct{ calls []string }

func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}

func showQueues(qs [][]byte) string {
	if qs == nil {
		return "nil"
	}
	var s []string
	for _, q := range qs {
		s = append(s, string(q))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (r *recorder) add(s string) error { r.calls = append(r.calls, s); return nil }

func (r *recorder) Info(arg []byte) error    { return r.add("INFO " + string(arg)) }
func (r *recorder) Connect(arg []byte) error { return r.add("CONNECT " + string(arg)) }
func (r *recorder) Sub(subject, queue []byte, weight int32) error {
	return r.add(fmt.Sprintf("LS+ %s|%s|%d", subject, show(queue), weight))
}
func (r *recorder) Unsub(subject, queue []byte) error {
	return r.add(fmt.Sprintf("LS- %s|%s", subject, show(queue)))
}
func (r *recorder) Msg(subject, reply []byte, queues [][]byte, hdr, payload []byte) error {
	return r.add(fmt.Sprintf("MSG %s|%s|%s|%s|%q", subject, show(reply), showQueues(queues), show(hdr), payload))
}
func (r *recorder) Ping() error           { return r.add("PING") }
func (r *recorder) Pong() error           { return r.add("PONG") }
func (r *recorder) Err(text []byte) error { return r.add("ERR " + string(text)) }

// parseWith feeds input to p in chunks of chunk(remaining) bytes, each
// through one read buffer that is scribbled over after every Parse, as a
// read loop reuses its buffer: state kept across calls must be a copy.
func parseWith(p *Parser, input []byte, chunk func(int) int) ([]string, error) {
	r := &recorder{}
	var rbuf []byte
	for len(input) > 0 {
		n := chunk(len(input))
		rbuf = append(rbuf[:0], input[:n]...)
		err := p.Parse(rbuf, r)
		for i := range rbuf {
			rbuf[i] = '#'
		}
		if err != nil {
			return r.calls, err
		}
		input = input[n:]
	}
	return r.calls, nil
}

func parseAll(input string, chunk func(int) int) ([]string, error) {
	var p Parser
	return parseWith(&p, []byte(input), chunk)
}

func whole(n int) int { return n }
func oneByte(int) int { return 1 }

var chunkings = map[string]func(int) int{"whole": whole, "bytewise": oneByte}

func TestParseOps(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"PING\r\n", []string{"PING"}},
		{"ping\r\npong\r\n", []string{"PING", "PONG"}},
		{"PING\n", []string{"PING"}},
		{"+OK\r\nPING\r\n", []string{"PING"}},
		{"INFO {\"server_id\":\"N\"} \r\n", []string{`INFO {"server_id":"N"}`}},
		{"info {}\r\n", []string{`INFO {}`}},
		{"CONNECT {\"name\":\"e\"}\r\n", []string{`CONNECT {"name":"e"}`}},
		{"-ERR 'Authorization Violation'\r\n", []string{"ERR Authorization Violation"}},
		{"-ERR  'a \"b\"' \r\n", []string{`ERR a "b"`}},
		{"-ERR unquoted\r\n", []string{"ERR unquoted"}},
		{"-ERR 'x\r\n", []string{"ERR 'x"}},
		{"-ERR\r\n", []string{"ERR "}},

		{"LS+ foo.>\r\n", []string{"LS+ foo.>|nil|0"}},
		{"ls+ foo.* workers 2\r\n", []string{`LS+ foo.*|"workers"|2`}},
		{"LS+  foo\tq\t 999999999\r\n", []string{`LS+ foo|"q"|999999999`}},
		// nats-server counts a malformed or zero weight as one member.
		{"LS+ foo q 0\r\n", []string{`LS+ foo|"q"|1`}},
		{"LS+ foo q x\r\n", []string{`LS+ foo|"q"|1`}},
		{"LS+ foo q -3\r\n", []string{`LS+ foo|"q"|1`}},
		{"LS+ foo q 1000000000\r\n", []string{`LS+ foo|"q"|1`}},
		{"LS- foo.>\r\n", []string{"LS- foo.>|nil"}},
		{"LS- foo q\r\n", []string{`LS- foo|"q"`}},

		{"LMSG foo 5\r\nhello\r\n", []string{`MSG foo|nil|nil|nil|"hello"`}},
		{"lmsg foo bar 0\r\n\r\n", []string{`MSG foo|"bar"|nil|nil|""`}},
		{"LMSG foo 2\r\n\r\n\r\n", []string{`MSG foo|nil|nil|nil|"\r\n"`}},
		{"LMSG foo + r q1 q2 1\r\nx\r\n", []string{`MSG foo|"r"|[q1 q2]|nil|"x"`}},
		{"LMSG foo | q1 1\r\nx\r\n", []string{`MSG foo|nil|[q1]|nil|"x"`}},
		{"LMSG foo + r 1\r\nx\r\n", []string{`MSG foo|"r"|nil|nil|"x"`}},
		// As in nats-server, the indicator is only looked for when there
		// are more fields than the plain forms have.
		{"LMSG foo | 1\r\nx\r\n", []string{`MSG foo|"|"|nil|nil|"x"`}},
		{"HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", []string{`MSG foo|nil|nil|"NATS/1.0\r\n\r\n"|"hi"`}},
		{"HMSG foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n", []string{`MSG foo|"r"|nil|"NATS/1.0\r\n\r\n"|""`}},
		{"HMSG foo + r g 12 13\r\nNATS/1.0\r\n\r\nx\r\n", []string{`MSG foo|"r"|[g]|"NATS/1.0\r\n\r\n"|"x"`}},
		{"HMSG foo | g h 12 13\r\nNATS/1.0\r\n\r\nx\r\n", []string{`MSG foo|nil|[g h]|"NATS/1.0\r\n\r\n"|"x"`}},
		{"HMSG foo 0 1\r\nx\r\n", []string{`MSG foo|nil|nil|""|"x"`}},
		{"LS+ a\r\nLMSG a 1\r\nx\r\nLS- a\r\nPING\r\n", []string{"LS+ a|nil|0", `MSG a|nil|nil|nil|"x"`, "LS- a|nil", "PING"}},
	}
	for _, tt := range tests {
		for name, chunk := range chunkings {
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
	long := "LS+ " + strings.Repeat("a", DefaultMaxControlLine+1) + "\r\n"
	tests := []struct {
		in   string
		want error
		text string
	}{
		{"FOO\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"\r\n", ErrUnknownOp, ErrTextUnknownOp},
		// Client and route operations are not leafnode operations.
		{"PUB foo 1\r\nx\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"MSG foo 1 1\r\nx\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"SUB foo 1\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"RS+ $G foo\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"LS+foo\r\n", ErrUnknownOp, ErrTextUnknownOp},
		{"LMSG foo 3\r\nabcd\r\n", ErrPayloadEnd, ErrTextUnknownOp},
		{"LMSG foo 3\r\nabc\n\n", ErrPayloadEnd, ErrTextUnknownOp},

		{"LS+\r\n", ErrBadArgs, ""},
		{"LS+ foo q\r\n", ErrBadArgs, ""}, // nats-server: processLeafSub Parse Error
		{"LS+ a b c d\r\n", ErrBadArgs, ""},
		{"LS-\r\n", ErrBadArgs, ""},
		{"LS- a b c\r\n", ErrBadArgs, ""},
		{"LMSG\r\n", ErrBadArgs, ""},
		{"LMSG foo\r\n", ErrBadArgs, ""},
		{"LMSG foo -1\r\n", ErrBadArgs, ""},
		{"LMSG foo 1x\r\n", ErrBadArgs, ""},
		{"LMSG foo r 1x\r\n", ErrBadArgs, ""},
		{"LMSG foo 1000000000\r\n", ErrBadArgs, ""}, // 10 digits
		{"LMSG foo * r q 1\r\nx\r\n", ErrBadArgs, ""},
		{"LMSG foo ++ r q 1\r\nx\r\n", ErrBadArgs, ""},
		{"LMSG foo + r q x\r\n", ErrBadArgs, ""},
		{"HMSG foo 5\r\n", ErrBadArgs, ""},
		{"HMSG foo 5 3\r\nabcde\r\n", ErrBadArgs, ""},
		{"HMSG foo x 3\r\nabc\r\n", ErrBadArgs, ""},
		{"HMSG foo 1 x\r\nabc\r\n", ErrBadArgs, ""},
		{"HMSG foo r 4 3\r\nabc\r\n", ErrBadArgs, ""},
		{"HMSG foo | q 4 3\r\nabc\r\n", ErrBadArgs, ""},
		{"HMSG foo ? q 1 3\r\nabc\r\n", ErrBadArgs, ""},

		{"LMSG foo 2000000\r\n", ErrMaxPayload, ErrTextMaxPayload},
		{"HMSG foo + r q 10 2000000\r\n", ErrMaxPayload, ErrTextMaxPayload},
		{long, ErrMaxControlLine, ErrTextMaxControlLine},
		{strings.Repeat("x", DefaultMaxControlLine+100), ErrMaxControlLine, ErrTextMaxControlLine},
	}
	for _, tt := range tests {
		for name, chunk := range chunkings {
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

func TestLimits(t *testing.T) {
	// Only the control line has arrived: the violation is reported now,
	// before any payload byte.
	p := Parser{MaxPayload: 10}
	if err := p.Parse([]byte("LMSG foo 11\r\n"), &recorder{}); !errors.Is(err, ErrMaxPayload) {
		t.Fatalf("LMSG: err = %v, want ErrMaxPayload", err)
	}
	p = Parser{MaxPayload: 10}
	if err := p.Parse([]byte("HMSG foo 2 11\r\n"), &recorder{}); !errors.Is(err, ErrMaxPayload) {
		t.Fatalf("HMSG: err = %v, want ErrMaxPayload", err)
	}
	p = Parser{MaxPayload: 10}
	if calls, err := parseWith(&p, []byte("LMSG foo 10\r\n0123456789\r\n"), whole); err != nil || len(calls) != 1 {
		t.Fatalf("at the limit: calls %q err %v", calls, err)
	}

	// MaxControlLine bounds the arguments, wherever the stream is cut.
	const mcl = 64
	ok := "LS+ " + strings.Repeat("a", mcl) + "\r\n"
	tooLong := "LS+ " + strings.Repeat("a", mcl+1) + "\r\n"
	for name, chunk := range chunkings {
		p = Parser{MaxControlLine: mcl}
		if _, err := parseWith(&p, []byte(ok), chunk); err != nil {
			t.Errorf("%s: %d bytes of arguments: %v", name, mcl, err)
		}
		p = Parser{MaxControlLine: mcl}
		if _, err := parseWith(&p, []byte(tooLong), chunk); !errors.Is(err, ErrMaxControlLine) {
			t.Errorf("%s: %d bytes of arguments: err = %v, want ErrMaxControlLine", name, mcl+1, err)
		}
		// A line that never ends is refused once it passes the bound,
		// without waiting for its end.
		p = Parser{MaxControlLine: mcl}
		if _, err := parseWith(&p, []byte(strings.Repeat("a", mcl+maxOpOverhead+2)), chunk); !errors.Is(err, ErrMaxControlLine) {
			t.Errorf("%s: endless line: err = %v, want ErrMaxControlLine", name, err)
		}
	}
}

var errHandlerStop = errors.New("stop")

type stopper struct{ recorder }

func (s *stopper) Sub([]byte, []byte, int32) error { return errHandlerStop }

func TestHandlerErrorStopsParsing(t *testing.T) {
	for name, chunk := range chunkings {
		var p Parser
		s := &stopper{}
		in := []byte("PING\r\nLS+ foo\r\nPING\r\n")
		var err error
		for len(in) > 0 && err == nil {
			n := chunk(len(in))
			err = p.Parse(in[:n], s)
			in = in[n:]
		}
		if err != errHandlerStop {
			t.Fatalf("%s: err = %v, want the handler's error unchanged", name, err)
		}
		if !reflect.DeepEqual(s.calls, []string{"PING"}) {
			t.Fatalf("%s: calls = %q: parsing went on after the error", name, s.calls)
		}
	}
}

// capturedHubStream is what nats-server v2.15.2 sent on its leafnode port
// to a raw TCP peer that sent CONNECT (no compression), LS+ bar.>,
// LS+ bar.q grp 2 and PING, while a client on the hub queue-subscribed
// twice to foo.* in group workers, subscribed to foo.x and published to
// bar.a, bar.q (with a reply, with headers, plain), and the peer then
// sent LS+ bar.secret, which the hub's permissions deny. The hub had
// cluster C1, JetStream domain hub and a user with import/export
// permissions; its 16 JetStream/system LS+ lines are cut to three.
const capturedHubStream = "INFO {\"server_id\":\"NAPNAXPPVERQM2ZBXCIU7WJOIN5AOSXDEJAG6LU4EZL7HJ3HYIXJITX6\",\"server_name\":\"hub1\",\"version\":\"2.15.2\",\"proto\":3,\"go\":\"go1.26.8\",\"host\":\"127.0.0.1\",\"port\":46371,\"headers\":true,\"auth_required\":true,\"max_payload\":1048576,\"jetstream\":true,\"ip\":\"127.0.0.1:46371\",\"client_id\":9,\"nonce\":\"e_iExK6_8Z_kytg\",\"cluster\":\"C1\",\"domain\":\"hub\",\"compression\":\"s2_auto\",\"api_lvl\":5,\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:46371\"]} \r\n" +
	"INFO {\"server_id\":\"NAPNAXPPVERQM2ZBXCIU7WJOIN5AOSXDEJAG6LU4EZL7HJ3HYIXJITX6\",\"server_name\":\"hub1\",\"version\":\"2.15.2\",\"proto\":3,\"go\":\"go1.26.8\",\"host\":\"127.0.0.1\",\"port\":46371,\"headers\":true,\"auth_required\":true,\"max_payload\":1048576,\"jetstream\":true,\"ip\":\"127.0.0.1:46371\",\"client_id\":9,\"cluster\":\"C1\",\"domain\":\"hub\",\"connect_info\":true,\"remote_account\":\"$G\",\"api_lvl\":5,\"import\":{\"allow\":[\"bar.\\u003e\",\"_INBOX.\\u003e\",\"jobs.*\"],\"deny\":[\"bar.secret\"]},\"export\":{\"allow\":[\"foo.\\u003e\",\"_INBOX.\\u003e\"]},\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:46371\"]} \r\n" +
	"LS+ $JS.hub.API.META.>\r\n" +
	"LS+ $LDS.Z3sI3If0YZD75olISLyMMx\r\n" +
	"LS+ $JS.API.>\r\n" +
	"LS+ foo.x\r\n" +
	"LS+ foo.* workers 2\r\n" +
	"PONG\r\n" +
	"LMSG bar.a 5\r\nhello\r\n" +
	"LMSG bar.q + _INBOX.r1 grp 1\r\nq\r\n" +
	"HMSG bar.q + _INBOX.r2 grp 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\n" +
	"LMSG bar.q | grp 2\r\nqq\r\n" +
	"-ERR 'Permissions Violation for Subscription to \"bar.secret\"'\r\n"

func TestParseCapturedHubStream(t *testing.T) {
	got, err := parseAll(capturedHubStream, whole)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"LS+ $JS.hub.API.META.>|nil|0",
		"LS+ $LDS.Z3sI3If0YZD75olISLyMMx|nil|0",
		"LS+ $JS.API.>|nil|0",
		"LS+ foo.x|nil|0",
		`LS+ foo.*|"workers"|2`,
		"PONG",
		`MSG bar.a|nil|nil|nil|"hello"`,
		`MSG bar.q|"_INBOX.r1"|[grp]|nil|"q"`,
		`MSG bar.q|"_INBOX.r2"|[grp]|"NATS/1.0\r\nA: b\r\n\r\n"|"world"`,
		`MSG bar.q|nil|[grp]|nil|"qq"`,
		`ERR Permissions Violation for Subscription to "bar.secret"`,
	}
	if len(got) != 2+len(want) || !strings.HasPrefix(got[0], "INFO {") || !strings.HasSuffix(got[1], "}") {
		t.Fatalf("calls %q", got)
	}
	if !reflect.DeepEqual(got[2:], want) {
		t.Fatalf("calls\n got %q\nwant %q", got[2:], want)
	}
}

// seedStreams are used by the chunking tests and as fuzz seeds.
var seedStreams = []string{
	capturedHubStream,
	"CONNECT {\"version\":\"2.15.2\",\"headers\":true}\r\nPING\r\n+OK\r\n",
	"LS+ foo\r\nLS+ bar q 2\r\nLMSG foo 5\r\nhello\r\nLMSG foo reply 0\r\n\r\nLS- bar q\r\n",
	"HMSG foo 22 27\r\nNATS/1.0\r\nA: bcdefg\r\n\r\nworld\r\nPONG\r\n",
	"LMSG foo + r a b c 12\r\nhello\r\nworld\r\nLMSG foo | a b 1\r\nx\r\n",
	"HMSG foo | a 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG foo + r a 12 12\r\nNATS/1.0\r\n\r\n\r\n",
	"LMSG foo 1\r\nab\r\n",
	"LS+\r\n",
	"LS- a b c\r\n",
	"PING",
	"LMSG foo 99999999999\r\n",
	"HMSG foo 2 1\r\nab\r\n",
	"-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n",
	"\x00\x01\r\n",
}

// TestChunkingIsInvisible feeds the same streams in random chunks and
// checks the handler sees exactly what it sees for the whole stream.
func TestChunkingIsInvisible(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range seedStreams {
		want, wantErr := parseAll(s, whole)
		for range 50 {
			got, err := parseAll(s, func(n int) int { return 1 + r.IntN(n) })
			if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("%q chunked: calls %q err %v; whole: calls %q err %v", s, got, err, want, wantErr)
			}
		}
	}
}

// TestSplitAtEveryByte cuts each stream in two at every position.
func TestSplitAtEveryByte(t *testing.T) {
	for _, s := range seedStreams {
		want, wantErr := parseAll(s, whole)
		for cut := 1; cut < len(s); cut++ {
			first := true
			got, err := parseAll(s, func(n int) int {
				if first {
					first = false
					return cut
				}
				return n
			})
			if !reflect.DeepEqual(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("%.60q cut at %d: calls %q err %v; whole: calls %q err %v", s, cut, got, err, want, wantErr)
			}
		}
	}
}

// TestHandlerSlicesAreViews checks the zero-copy promise: a message that
// arrives whole is delivered as views into the caller's buffer.
func TestHandlerSlicesAreViews(t *testing.T) {
	buf := []byte("HMSG subj + rep q1 q2 12 15\r\nNATS/1.0\r\n\r\nabc\r\n")
	var p Parser
	var h viewChecker
	h.buf = buf
	if err := p.Parse(buf, &h); err != nil {
		t.Fatal(err)
	}
	if !h.called {
		t.Fatal("no message")
	}
}

type viewChecker struct {
	recorder
	buf    []byte
	called bool
}

func (v *viewChecker) Msg(subject, reply []byte, queues [][]byte, hdr, payload []byte) error {
	v.called = true
	// A sub-slice of buf ends its capacity where buf does; a copy does not.
	end := &v.buf[:cap(v.buf)][cap(v.buf)-1]
	inside := func(b []byte) bool {
		return cap(b) > 0 && &b[:cap(b)][cap(b)-1] == end
	}
	for _, b := range append([][]byte{subject, reply, hdr, payload}, queues...) {
		if !inside(b) {
			return fmt.Errorf("%q is a copy", b)
		}
	}
	return nil
}

func FuzzParser(f *testing.F) {
	for i, s := range seedStreams {
		f.Add([]byte(s), uint64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		want, wantErr := parseWith(&Parser{MaxControlLine: 256, MaxPayload: 1024}, data, whole)
		r := rand.New(rand.NewPCG(seed, 0))
		got, err := parseWith(&Parser{MaxControlLine: 256, MaxPayload: 1024}, data, func(n int) int { return 1 + r.IntN(min(n, 16)) })
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunked calls %q, whole %q", got, want)
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("chunked err %v, whole err %v", err, wantErr)
		}
	})
}

type nopHandler struct{}

func (nopHandler) Info([]byte) error                              { return nil }
func (nopHandler) Connect([]byte) error                           { return nil }
func (nopHandler) Sub(_, _ []byte, _ int32) error                 { return nil }
func (nopHandler) Unsub(_, _ []byte) error                        { return nil }
func (nopHandler) Msg(_, _ []byte, _ [][]byte, _, _ []byte) error { return nil }
func (nopHandler) Ping() error                                    { return nil }
func (nopHandler) Pong() error                                    { return nil }
func (nopHandler) Err([]byte) error                               { return nil }

func benchParseMsg(b *testing.B, frame []byte) {
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

func lmsg(size int) []byte {
	return AppendMsg(nil, []byte("bench.subject"), nil, nil, bytes.Repeat([]byte("x"), size))
}

func BenchmarkParseLMsg16(b *testing.B)   { benchParseMsg(b, lmsg(16)) }
func BenchmarkParseLMsg1024(b *testing.B) { benchParseMsg(b, lmsg(1024)) }
func BenchmarkParseLMsgQueues16(b *testing.B) {
	benchParseMsg(b, AppendMsg(nil, []byte("bench.subject"), []byte("_INBOX.abc"), [][]byte{[]byte("q1"), []byte("q2")}, make([]byte, 16)))
}

// BenchmarkParseLMsgSplit16 feeds the stream in 1000-byte reads, so
// messages straddle reads and take the copying path.
func BenchmarkParseLMsgSplit16(b *testing.B) {
	buf := bytes.Repeat(lmsg(16), 64*1024/len(lmsg(16))+1)
	var p Parser
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for in := buf; len(in) > 0; {
			n := min(len(in), 1000)
			if err := p.Parse(in[:n], nopHandler{}); err != nil {
				b.Fatal(err)
			}
			in = in[n:]
		}
	}
}
