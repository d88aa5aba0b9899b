package jetstream

import (
	"testing"

	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/store/jsapi"
)

// A KV or object store put addressed to this server's domain, as a client
// across a leafnode link sends it ($JS.<domain>.API.$KV.<bucket>.<key>),
// is stored in the bucket's stream and acknowledged, as nats-server's
// domain mapping does; another domain's is not.
func TestDomainKVAndObjectMapping(t *testing.T) {
	r := router.New()
	svc, err := Open(Config{Dir: t.TempDir(), Domain: "edge"}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	e := &env{t: t, r: r, svc: svc}
	e.createStream(jsapi.StreamConfig{Name: "KV_cfg", Subjects: []string{"$KV.cfg.>"}})
	e.createStream(jsapi.StreamConfig{Name: "OBJ_files", Subjects: []string{"$OBJ.files.>"}})
	for _, tc := range []struct{ subj, stream string }{
		{"$JS.edge.API.$KV.cfg.k1", "KV_cfg"},
		{"$JS.edge.API.$OBJ.files.C.abc", "OBJ_files"},
	} {
		ack := e.publish(tc.subj, "v")
		if ack.Error != nil || ack.PubAck == nil || ack.Stream != tc.stream || ack.Sequence != 1 {
			t.Fatalf("%s: ack %+v, want seq 1 in %s", tc.subj, ack, tc.stream)
		}
	}
	if n := r.Publish(&router.Publisher{}, []byte("$JS.other.API.$KV.cfg.k1"), nil, nil, []byte("v")); n != 0 {
		t.Fatalf("another domain's put was taken (%d deliveries)", n)
	}
	if got := e.streamMsgs("KV_cfg"); got != 1 {
		t.Fatalf("KV_cfg holds %d messages, want 1", got)
	}
}
