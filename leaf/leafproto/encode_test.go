package leafproto

import (
	"reflect"
	"testing"
)

func bs(s string) []byte { return []byte(s) }

func qs(names ...string) [][]byte {
	var out [][]byte
	for _, n := range names {
		out = append(out, []byte(n))
	}
	return out
}

// TestEncodeRoundTrip encodes every operation form, checks the exact
// bytes (nats-server's, as captured in capturedHubStream where it has the
// form) and that parsing them gives back the values, whole and bytewise.
func TestEncodeRoundTrip(t *testing.T) {
	hdr := bs("NATS/1.0\r\nA: b\r\n\r\n")
	tests := []struct {
		name string
		enc  []byte
		wire string
		call string
	}{
		{"sub", AppendSub(nil, bs("foo.>"), nil, 0), "LS+ foo.>\r\n", "LS+ foo.>|nil|0"},
		{"sub plain ignores weight", AppendSub(nil, bs("foo"), nil, 7), "LS+ foo\r\n", "LS+ foo|nil|0"},
		{"queue sub", AppendSub(nil, bs("foo.*"), bs("workers"), 2), "LS+ foo.* workers 2\r\n", `LS+ foo.*|"workers"|2`},
		{"queue sub weight 0 is 1", AppendSub(nil, bs("f"), bs("q"), 0), "LS+ f q 1\r\n", `LS+ f|"q"|1`},
		{"queue sub negative weight", AppendSub(nil, bs("f"), bs("q"), -5), "LS+ f q 1\r\n", `LS+ f|"q"|1`},
		{"queue sub weight capped", AppendSub(nil, bs("f"), bs("q"), 2_000_000_000), "LS+ f q 999999999\r\n", `LS+ f|"q"|999999999`},
		{"unsub", AppendUnsub(nil, bs("foo.>"), nil), "LS- foo.>\r\n", "LS- foo.>|nil"},
		{"queue unsub", AppendUnsub(nil, bs("bar.q"), bs("grp")), "LS- bar.q grp\r\n", `LS- bar.q|"grp"`},

		{"lmsg", AppendMsg(nil, bs("bar.a"), nil, nil, bs("hello")), "LMSG bar.a 5\r\nhello\r\n", `MSG bar.a|nil|nil|nil|"hello"`},
		{"lmsg empty", AppendMsg(nil, bs("a"), nil, nil, nil), "LMSG a 0\r\n\r\n", `MSG a|nil|nil|nil|""`},
		{"lmsg reply", AppendMsg(nil, bs("a"), bs("r"), nil, bs("x")), "LMSG a r 1\r\nx\r\n", `MSG a|"r"|nil|nil|"x"`},
		{"lmsg reply queues", AppendMsg(nil, bs("bar.q"), bs("_INBOX.r1"), qs("grp"), bs("q")), "LMSG bar.q + _INBOX.r1 grp 1\r\nq\r\n", `MSG bar.q|"_INBOX.r1"|[grp]|nil|"q"`},
		{"lmsg queues", AppendMsg(nil, bs("bar.q"), nil, qs("grp"), bs("qq")), "LMSG bar.q | grp 2\r\nqq\r\n", `MSG bar.q|nil|[grp]|nil|"qq"`},
		{"lmsg many queues", AppendMsg(nil, bs("a"), bs("r"), qs("q1", "q2", "q3"), bs("x")), "LMSG a + r q1 q2 q3 1\r\nx\r\n", `MSG a|"r"|[q1 q2 q3]|nil|"x"`},
		{"lmsg payload with CRLF", AppendMsg(nil, bs("a"), nil, nil, bs("\r\nLMSG a 1\r\n")), "LMSG a 12\r\n\r\nLMSG a 1\r\n\r\n", `MSG a|nil|nil|nil|"\r\nLMSG a 1\r\n"`},

		{"hmsg", AppendHMsg(nil, bs("a"), nil, nil, hdr, bs("world")), "HMSG a 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\n", `MSG a|nil|nil|"NATS/1.0\r\nA: b\r\n\r\n"|"world"`},
		{"hmsg reply", AppendHMsg(nil, bs("a"), bs("r"), nil, hdr, nil), "HMSG a r 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n", `MSG a|"r"|nil|"NATS/1.0\r\nA: b\r\n\r\n"|""`},
		{"hmsg reply queues", AppendHMsg(nil, bs("bar.q"), bs("_INBOX.r2"), qs("grp"), hdr, bs("world")), "HMSG bar.q + _INBOX.r2 grp 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\n", `MSG bar.q|"_INBOX.r2"|[grp]|"NATS/1.0\r\nA: b\r\n\r\n"|"world"`},
		{"hmsg queues", AppendHMsg(nil, bs("a"), nil, qs("g", "h"), hdr, bs("x")), "HMSG a | g h 18 19\r\nNATS/1.0\r\nA: b\r\n\r\nx\r\n", `MSG a|nil|[g h]|"NATS/1.0\r\nA: b\r\n\r\n"|"x"`},

		{"ping", AppendPing(nil), "PING\r\n", "PING"},
		{"pong", AppendPong(nil), "PONG\r\n", "PONG"},
		{"err", AppendErr(nil, LoopErrText("$G")), "-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n", `ERR Loop detected for leafnode account="$G". Delaying attempt to reconnect for 30s`},
		{"connect", AppendConnect(nil, &Connect{Name: "edge", Headers: true}), "CONNECT {\"name\":\"edge\",\"headers\":true}\r\n", `CONNECT {"name":"edge","headers":true}`},
		{"info", AppendInfo(nil, &Info{ServerID: "N", ClientID: 6, Compression: CompressionS2Fast}), "INFO {\"server_id\":\"N\",\"server_name\":\"\",\"version\":\"\",\"proto\":0,\"go\":\"\",\"host\":\"\",\"port\":0,\"headers\":false,\"max_payload\":0,\"client_id\":6,\"compression\":\"s2_fast\"}\r\n", `INFO {"server_id":"N","server_name":"","version":"","proto":0,"go":"","host":"","port":0,"headers":false,"max_payload":0,"client_id":6,"compression":"s2_fast"}`},
	}
	for _, tt := range tests {
		if string(tt.enc) != tt.wire {
			t.Errorf("%s: encoded %q, want %q", tt.name, tt.enc, tt.wire)
			continue
		}
		for name, chunk := range chunkings {
			got, err := parseAll(tt.wire, chunk)
			if err != nil || !reflect.DeepEqual(got, []string{tt.call}) {
				t.Errorf("%s %s: parsed %q err %v, want %q", tt.name, name, got, err, tt.call)
			}
		}
	}
}

func TestAppendAppends(t *testing.T) {
	dst := []byte("PING\r\n")
	dst = AppendMsgLine(dst, bs("a"), nil, nil, 3)
	dst = append(dst, "abc\r\n"...)
	dst = AppendHMsgLine(dst, bs("b"), bs("r"), qs("q"), 12, 12)
	if want := "PING\r\nLMSG a 3\r\nabc\r\nHMSG b + r q 12 12\r\n"; string(dst) != want {
		t.Fatalf("%q, want %q", dst, want)
	}
}

func TestAppendMsgDoesNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 1024)
	subj, reply, payload, hdr := bs("bench.subject"), bs("_INBOX.x"), make([]byte, 64), bs("NATS/1.0\r\n\r\n")
	queues := qs("q1", "q2")
	n := testing.AllocsPerRun(100, func() {
		dst = AppendMsg(dst[:0], subj, reply, queues, payload)
		dst = AppendHMsg(dst, subj, nil, nil, hdr, payload)
		dst = AppendSub(dst, subj, queues[0], 3)
		dst = AppendUnsub(dst, subj, queues[0])
	})
	if n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	var in []byte
	in = AppendMsg(in, bs("a.b"), nil, nil, make([]byte, 16))
	in = AppendMsg(in, bs("a.b"), bs("r"), qs("q1", "q2"), make([]byte, 16))
	in = AppendHMsg(in, bs("a.b"), bs("r"), nil, bs("NATS/1.0\r\n\r\n"), make([]byte, 16))
	in = AppendSub(in, bs("a.b"), bs("q"), 2)
	in = AppendUnsub(in, bs("a.b"), nil)
	in = AppendPing(in)
	var p Parser
	_ = p.Parse(in, nopHandler{}) // warm the field scratch
	whole := testing.AllocsPerRun(100, func() {
		if err := p.Parse(in, nopHandler{}); err != nil {
			t.Fatal(err)
		}
	})
	split := testing.AllocsPerRun(100, func() {
		for i := range in {
			if err := p.Parse(in[i:i+1], nopHandler{}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if whole != 0 || split != 0 {
		t.Fatalf("allocations per run: %v whole, %v bytewise", whole, split)
	}
}

func BenchmarkAppendMsg(b *testing.B) {
	dst := make([]byte, 0, 4096)
	subj, payload := []byte("bench.subject"), make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendMsg(dst[:0], subj, nil, nil, payload)
	}
}

func BenchmarkAppendMsgQueues(b *testing.B) {
	dst := make([]byte, 0, 4096)
	subj, reply, payload := []byte("bench.subject"), []byte("_INBOX.abcdef"), make([]byte, 16)
	queues := qs("workers", "others")
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendMsg(dst[:0], subj, reply, queues, payload)
	}
}
