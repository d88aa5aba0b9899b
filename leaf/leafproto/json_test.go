package leafproto

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// infoLines returns the JSON of the INFO lines of capturedHubStream.
func infoLines(t *testing.T) (first, connectInfo string) {
	t.Helper()
	var infos []string
	for line := range strings.SplitSeq(capturedHubStream, "\r\n") {
		if js, ok := strings.CutPrefix(line, "INFO "); ok {
			infos = append(infos, js)
		}
	}
	if len(infos) != 2 {
		t.Fatalf("%d INFO lines in the capture", len(infos))
	}
	return infos[0], infos[1]
}

// TestInfoFromNatsServer decodes the INFOs nats-server v2.15.2 sent on its
// leafnode port and checks that encoding them again gives the same bytes:
// every key it sent is known, in nats-server's order, with its omitempty
// rules.
func TestInfoFromNatsServer(t *testing.T) {
	first, connectInfo := infoLines(t)

	var i Info
	if err := json.Unmarshal([]byte(first), &i); err != nil {
		t.Fatal(err)
	}
	want := Info{
		ServerID: "NAPNAXPPVERQM2ZBXCIU7WJOIN5AOSXDEJAG6LU4EZL7HJ3HYIXJITX6", ServerName: "hub1",
		Version: "2.15.2", Proto: 3, GoVersion: "go1.26.8", Host: "127.0.0.1", Port: 46371,
		Headers: true, AuthRequired: true, MaxPayload: 1048576, JetStream: true,
		IP: "127.0.0.1:46371", ClientID: 9, Nonce: "e_iExK6_8Z_kytg", Cluster: "C1", Domain: "hub",
		Compression: CompressionS2Auto, APILevel: 5, InfoOnConnect: true,
		LeafNodeURLs: []string{"127.0.0.1:46371"},
	}
	if !reflect.DeepEqual(i, want) {
		t.Fatalf("first INFO\n got %+v\nwant %+v", i, want)
	}
	if !i.FromLeafnodePort() {
		t.Error("FromLeafnodePort = false for a leafnode port's INFO")
	}
	if got := AppendInfo(nil, &i); string(got) != "INFO "+strings.TrimSpace(first)+"\r\n" {
		t.Errorf("re-encoded\n %s\nnats-server\n %s", got, first)
	}

	var ci Info
	if err := json.Unmarshal([]byte(connectInfo), &ci); err != nil {
		t.Fatal(err)
	}
	if !ci.ConnectInfo || ci.RemoteAccount != "$G" || ci.Nonce != "" {
		t.Errorf("connect_info INFO: %+v", ci)
	}
	wantImport := &SubjectPermission{Allow: []string{"bar.>", "_INBOX.>", "jobs.*"}, Deny: []string{"bar.secret"}}
	wantExport := &SubjectPermission{Allow: []string{"foo.>", "_INBOX.>"}}
	if !reflect.DeepEqual(ci.Import, wantImport) || !reflect.DeepEqual(ci.Export, wantExport) {
		t.Errorf("import %+v export %+v", ci.Import, ci.Export)
	}
	if got := AppendInfo(nil, &ci); string(got) != "INFO "+strings.TrimSpace(connectInfo)+"\r\n" {
		t.Errorf("re-encoded\n %s\nnats-server\n %s", got, connectInfo)
	}
}

// capturedLeafInfo is the INFO a nats-server v2.15.2 leaf (no leafnode
// listener, remote compression s2_fast) sent to a hub announcing s2_auto,
// before switching to S2: nearly empty, as its leafnode INFO template is.
const capturedLeafInfo = `{"server_id":"","server_name":"","version":"","proto":0,"go":"","host":"","port":0,"headers":false,"max_payload":0,"client_id":6,"compression":"s2_fast"}`

func TestLeafCompressionInfo(t *testing.T) {
	i := Info{ClientID: 6, Compression: InfoCompressionMode(CompressionS2Fast, CompressionS2Fast)}
	if got := AppendInfo(nil, &i); string(got) != "INFO "+capturedLeafInfo+"\r\n" {
		t.Fatalf("%s\nwant %s", got, capturedLeafInfo)
	}
}

func TestFromLeafnodePort(t *testing.T) {
	tests := []struct {
		js   string
		want bool
	}{
		{`{"client_id":3,"leafnode_urls":["a:7422"]}`, true},
		{`{"client_id":3,"leafnode_urls":[]}`, true},
		{`{"client_id":3,"info_on_connect":true}`, true},
		{`{"client_id":3,"connect_urls":["a:4222"]}`, false}, // a client port
		{`{"leafnode_urls":["a:7422"],"info_on_connect":true}`, false},
	}
	for _, tt := range tests {
		var i Info
		if err := json.Unmarshal([]byte(tt.js), &i); err != nil {
			t.Fatal(err)
		}
		if got := i.FromLeafnodePort(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.js, got, tt.want)
		}
	}
}

// capturedLeafConnect is the CONNECT a nats-server v2.15.2 leaf sent for
// a remote with URL credentials, account APP, deny_imports secret.>, to a
// hub whose INFO had no "compression" (so "not supported"); its JetStream
// domain was edge and, JetStream being on, its cluster name its server
// name.
const capturedLeafConnect = `{"version":"2.15.2","user":"lu","pass":"lp","server_id":"NAV7PGMIFK3RGFIZJBGPUDNHHFY5UWXJDLDDZG4A65C5XTMAQO2EN2RM","domain":"edge","name":"edge1","cluster":"edge1","headers":true,"jetstream":true,"deny_pub":["secret.\u003e"],"compress_mode":"not supported","remote_account":"APP","protocol":3}`

func TestConnectFromNatsServerLeaf(t *testing.T) {
	var c Connect
	if err := json.Unmarshal([]byte(capturedLeafConnect), &c); err != nil {
		t.Fatal(err)
	}
	want := Connect{
		Version: "2.15.2", User: "lu", Pass: "lp", ServerID: "NAV7PGMIFK3RGFIZJBGPUDNHHFY5UWXJDLDDZG4A65C5XTMAQO2EN2RM",
		Domain: "edge", Name: "edge1", Cluster: "edge1", Headers: true, JetStream: true,
		DenyPub: []string{"secret.>"}, CompressMode: CompressionNotSupported, RemoteAccount: "APP", Protocol: ServerProto,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("\n got %+v\nwant %+v", c, want)
	}
	if got := AppendConnect(nil, &c); string(got) != "CONNECT "+capturedLeafConnect+"\r\n" {
		t.Fatalf("re-encoded\n %s\nnats-server\n %s", got, capturedLeafConnect)
	}
}

// TestConnectKeys checks Connect has exactly nats-server's leafConnectInfo
// keys, all omitted when empty, and no "lang".
func TestConnectKeys(t *testing.T) {
	if got := AppendConnect(nil, &Connect{}); string(got) != "CONNECT {}\r\n" {
		t.Fatalf("empty CONNECT: %q", got)
	}
	full := Connect{
		Version: "v", Nkey: "n", JWT: "j", Sig: "s", User: "u", Pass: "p", AuthToken: "t",
		ServerID: "id", Domain: "d", Name: "nm", IsHub: true, Cluster: "c", Headers: true,
		JetStream: true, DenyPub: []string{"x"}, Isolate: true, CompressMode: "s2_fast",
		Gateway: "g", RemoteAccount: "ra", Protocol: 3,
	}
	var m map[string]any
	if err := json.Unmarshal(AppendConnect(nil, &full)[len("CONNECT "):], &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{
		"auth_token", "cluster", "compress_mode", "deny_pub", "domain", "gateway", "headers",
		"is_hub", "isolate", "jetstream", "jwt", "name", "nkey", "pass", "protocol",
		"remote_account", "server_id", "sig", "user", "version",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys\n got %q\nwant %q", keys, want)
	}
	// No field of any name may carry a lang tag.
	ct := reflect.TypeFor[Connect]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == "lang" {
			t.Fatalf("Connect.%s is sent as lang: a hub rejects it as a client", f.Name)
		}
	}
}

func TestLeafPermissions(t *testing.T) {
	if LeafPermissions(&Info{}, []string{"a"}, []string{"b"}) != nil {
		t.Fatal("permissions from an INFO without import/export")
	}
	i := &Info{
		Import: &SubjectPermission{Allow: []string{"bar.>"}, Deny: []string{"bar.secret"}},
		Export: &SubjectPermission{Allow: []string{"foo.>"}},
	}
	p := LeafPermissions(i, []string{"bar.private"}, []string{"foo.internal"})
	want := &Permissions{
		Publish:   &SubjectPermission{Allow: []string{"foo.>"}, Deny: []string{"foo.internal"}},
		Subscribe: &SubjectPermission{Allow: []string{"bar.>"}, Deny: []string{"bar.secret", "bar.private"}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("\n got %+v %+v\nwant %+v %+v", p.Publish, p.Subscribe, want.Publish, want.Subscribe)
	}
	if len(i.Import.Deny) != 1 {
		t.Fatalf("LeafPermissions changed the INFO: %v", i.Import.Deny)
	}
	// Only an import: deny_exports still builds a publish side.
	p = LeafPermissions(&Info{Import: &SubjectPermission{Allow: []string{"x"}}}, nil, []string{"y"})
	if p.Publish == nil || !slices.Equal(p.Publish.Deny, []string{"y"}) || p.Publish.Allow != nil {
		t.Fatalf("publish %+v", p.Publish)
	}
	b, _ := json.Marshal(&Permissions{Subscribe: &SubjectPermission{Deny: []string{"z"}}})
	if string(b) != `{"subscribe":{"deny":["z"]}}` {
		t.Fatalf("%s", b)
	}
}
