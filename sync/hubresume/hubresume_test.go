package hubresume

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

func TestPending(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"$JS.hub.API.>", "$JSC.R.DZTAXCKG", "_INBOX.x", "$JSC.R.a1"}, []string{"$JSC.R.DZTAXCKG", "$JSC.R.a1"}},
		// Not a setup's reply: a wildcard, more tokens, no token, another prefix.
		{[]string{"$JSC.R.*", "$JSC.R.>", "$JSC.R.a.b", "$JSC.R.", "$JSC.R", "$JSC.SYNC.x", "$JSC.ACK.x.y", "x.$JSC.R.a"}, nil},
	} {
		if got := Pending(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Pending(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The answer is the error nats-server's setups step down on: 10185.
func TestAnswer(t *testing.T) {
	var r struct {
		Type  string `json:"type"`
		Error struct {
			Code    int    `json:"code"`
			ErrCode uint16 `json:"err_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(Answer, &r); err != nil {
		t.Fatal(err)
	}
	if r.Type != jsapi.TypeConsumerCreate || r.Error.Code != 412 || r.Error.ErrCode != 10185 {
		t.Fatalf("answer %s", Answer)
	}
}

type recv struct {
	got []string
}

func (r *recv) Deliver(_ *router.Sub, subject, reply, hdr, payload []byte) bool {
	r.got = append(r.got, string(subject)+" "+string(payload))
	return false
}

func (r *recv) Flush() {}

// DeliverLink makes recv a link (router.LinkReceiver).
func (r *recv) DeliverLink(_ *router.Publisher, _, subject, _, _, payload []byte, _ []string) bool {
	r.got = append(r.got, string(subject)+" "+string(payload))
	return false
}

// The answers go to the hub's interest only, never to local subscribers
// of the same subjects.
func TestSettledAnswersOverTheLink(t *testing.T) {
	rt := router.New()
	link, local := &recv{}, &recv{}
	for _, s := range []*router.Sub{
		{Subject: "$JSC.R.abc", Remote: true, Receiver: link},
		{Subject: "$JSC.R.def", Remote: true, Receiver: link},
		{Subject: "$JSC.R.abc", Receiver: local},
		{Subject: "$JSC.>", Receiver: local},
	} {
		if err := rt.Subscribe(s); err != nil {
			t.Fatal(err)
		}
	}
	x := New(rt, nil)
	// $JSC.R.gone: advertised, then withdrawn before the answer.
	x.Settled("hub", []string{"$JS.hub.API.>", "$JSC.R.abc", "$JSC.R.def", "$JSC.R.gone"})
	want := []string{"$JSC.R.abc " + string(Answer), "$JSC.R.def " + string(Answer)}
	if !slices.Equal(link.got, want) {
		t.Fatalf("the link got %q, want %q", link.got, want)
	}
	if len(local.got) != 0 {
		t.Fatalf("local subscribers got %q", local.got)
	}
	if x.Sent() != 2 {
		t.Fatalf("Sent %d, want 2", x.Sent())
	}
}
