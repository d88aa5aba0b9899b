package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestAuthenticate(t *testing.T) {
	hash, err := HashPassword("s3cret", 4)
	if err != nil {
		t.Fatal(err)
	}
	tokHash, _ := HashPassword("tok", 4)
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	other, _ := nkeys.CreateUser()
	nonce := NewNonce()
	sign := func(k nkeys.KeyPair, enc *base64.Encoding) string {
		sig, err := k.Sign([]byte(nonce))
		if err != nil {
			t.Fatal(err)
		}
		return enc.EncodeToString(sig)
	}
	users := Config{Users: []User{
		{Name: "plain", Password: "pw"},
		{Name: "hashed", Password: hash},
		{NKey: pub},
	}}
	tests := []struct {
		name string
		cfg  Config
		c    Credentials
		ok   bool
		who  string
	}{
		{"no auth admits anyone", Config{}, Credentials{}, true, ""},
		{"plain password", users, Credentials{User: "plain", Password: "pw"}, true, "plain"},
		{"plain wrong", users, Credentials{User: "plain", Password: "px"}, false, ""},
		{"bcrypt password", users, Credentials{User: "hashed", Password: "s3cret"}, true, "hashed"},
		{"bcrypt wrong", users, Credentials{User: "hashed", Password: "nope"}, false, ""},
		{"unknown user", users, Credentials{User: "who", Password: "pw"}, false, ""},
		{"missing credentials", users, Credentials{}, false, ""},
		{"nkey raw-url sig", users, Credentials{NKey: pub, Sig: sign(kp, base64.RawURLEncoding)}, true, pub},
		{"nkey std sig", users, Credentials{NKey: pub, Sig: sign(kp, base64.StdEncoding)}, true, pub},
		{"nkey wrong signer", users, Credentials{NKey: pub, Sig: sign(other, base64.RawURLEncoding)}, false, ""},
		{"nkey no sig", users, Credentials{NKey: pub}, false, ""},
		{"nkey garbage sig", users, Credentials{NKey: pub, Sig: "!!"}, false, ""},
		{"token", Config{Token: "tok"}, Credentials{Token: "tok"}, true, ""},
		{"token wrong", Config{Token: "tok"}, Credentials{Token: "tak"}, false, ""},
		{"token missing", Config{Token: "tok"}, Credentials{User: "tok"}, false, ""},
		{"bcrypt token", Config{Token: tokHash}, Credentials{Token: "tok"}, true, ""},
	}
	for _, tt := range tests {
		a, err := New(tt.cfg)
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		id, err := a.Authenticate(tt.c, nonce)
		if tt.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrAuthorization) {
				t.Errorf("%s: err = %v, want ErrAuthorization", tt.name, err)
			}
			continue
		}
		if id.Name != tt.who {
			t.Errorf("%s: identity %q, want %q", tt.name, id.Name, tt.who)
		}
	}
}

func TestNewValidation(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	acct, _ := nkeys.CreateAccount()
	apub, _ := acct.PublicKey()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Token: "t", Users: []User{{Name: "a", Password: "b"}}}, "token: cannot be combined"},
		{Config{Users: []User{{Name: "a"}}}, "users[0].password"},
		{Config{Users: []User{{Password: "x"}}}, "users[0].user"},
		{Config{Users: []User{{Name: "a", Password: "b"}, {Name: "a", Password: "c"}}}, "users[1].user: duplicate"},
		{Config{Users: []User{{NKey: "UBAD"}}}, "users[0].nkey: invalid"},
		{Config{Users: []User{{NKey: apub}}}, "users[0].nkey: invalid"},
		{Config{Users: []User{{NKey: pub, Name: "x"}}}, "users[0]: nkey cannot"},
		{Config{Users: []User{{Name: "a", Password: "$2a$10$short"}}}, "users[0].password: malformed bcrypt"},
		{Config{Users: []User{{Name: "a", Password: "b", Permissions: &Permissions{Publish: &SubjectPermission{Allow: []string{"foo..bar"}}}}}}, "users[0].permissions: publish.allow[0]"},
		{Config{Users: []User{{Name: "a", Password: "b", Permissions: &Permissions{Subscribe: &SubjectPermission{Deny: []string{"ok", "a b c"}}}}}}, "users[0].permissions: subscribe.deny[1]"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) err = %v, want containing %q", tt.cfg, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), `"b"`) || strings.Contains(err.Error(), `"c"`)) {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}

func TestPermissions(t *testing.T) {
	c, err := Compile(&Permissions{
		Publish: &SubjectPermission{Allow: []string{"req.>", "events.*"}, Deny: []string{"req.admin.>"}},
		Subscribe: &SubjectPermission{
			Allow: []string{"data.>", "jobs.* workers", "_INBOX.>"},
			Deny:  []string{"data.secret.>"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := map[string]bool{
		"req.x": true, "req.x.y": true, "events.a": true, "events.a.b": false,
		"req.admin.x": false, "other": false,
	}
	for s, want := range pub {
		if got := c.CanPublish(s); got != want {
			t.Errorf("CanPublish(%q) = %v, want %v", s, got, want)
		}
	}
	sub := []struct {
		subj, queue string
		want        bool
	}{
		{"data.a", "", true},
		{"data.>", "", true},
		{"data.secret.x", "", false},
		{"data.secret.>", "", false},
		{"jobs.a", "workers", true},
		{"jobs.a", "thieves", false},
		{"jobs.a", "", false}, // only queue subscriptions allowed there
		{"_INBOX.abc", "", true},
		{"other", "", false},
	}
	for _, tt := range sub {
		if got := c.CanSubscribe(tt.subj, tt.queue); got != tt.want {
			t.Errorf("CanSubscribe(%q, %q) = %v, want %v", tt.subj, tt.queue, got, tt.want)
		}
	}
	// data.> is allowed, but messages on the denied part are not delivered.
	if !c.DeliveryDenied("data.secret.x") || c.DeliveryDenied("data.public") {
		t.Errorf("DeliveryDenied wrong")
	}
	var none *Checker
	if !none.CanPublish("x") || !none.CanSubscribe("x", "q") || none.DeliveryDenied("x") || none.Responses() != nil {
		t.Errorf("nil Checker must allow everything")
	}
}

func TestAllowResponsesDefaults(t *testing.T) {
	c, err := Compile(&Permissions{Responses: &ResponsePermission{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.CanPublish("anything") {
		t.Error("allow_responses without a publish allow list must deny plain publishes")
	}
	r := c.Responses()
	if r == nil || r.MaxMsgs != DefaultResponseMaxMsgs || r.Expires != DefaultResponseExpires {
		t.Errorf("Responses = %+v, want defaults", r)
	}
	c, _ = Compile(&Permissions{Publish: &SubjectPermission{Allow: []string{"ok"}}, Responses: &ResponsePermission{MaxMsgs: 3}})
	if !c.CanPublish("ok") || c.CanPublish("other") || c.Responses().MaxMsgs != 3 {
		t.Error("explicit publish allow with allow_responses")
	}
}

func TestEmptyAllowListAllowsNothing(t *testing.T) {
	c, _ := Compile(&Permissions{Publish: &SubjectPermission{Allow: []string{}}})
	if c.CanPublish("x") {
		t.Error("non-nil empty allow list must allow nothing")
	}
	c, _ = Compile(&Permissions{Publish: &SubjectPermission{Deny: []string{"x"}}})
	if !c.CanPublish("y") || c.CanPublish("x") {
		t.Error("nil allow list with deny")
	}
}

func TestNonce(t *testing.T) {
	a, b := NewNonce(), NewNonce()
	if a == b || len(a) != 15 {
		t.Fatalf("nonces %q %q", a, b)
	}
}

func FuzzPermissions(f *testing.F) {
	f.Add("foo.*", "foo.>", "foo.bar", "q")
	f.Add("a b", ">", "a.b", "")
	f.Fuzz(func(t *testing.T, allow, deny, subj, queue string) {
		c, err := Compile(&Permissions{
			Publish:   &SubjectPermission{Allow: []string{allow}, Deny: []string{deny}},
			Subscribe: &SubjectPermission{Allow: []string{allow}, Deny: []string{deny}},
		})
		if err != nil {
			return
		}
		// Deny always wins for literal subjects.
		if c.CanPublish(subj) && c.CanSubscribe(subj, "") && c.DeliveryDenied(subj) {
			t.Fatalf("%q allowed to subscribe and publish yet delivery-denied", subj)
		}
		_ = c.CanSubscribe(subj, queue)
	})
}

func BenchmarkCanPublish(b *testing.B) {
	var allow, deny []string
	for i := 0; i < 10; i++ {
		allow = append(allow, "svc."+string(rune('a'+i))+".>")
		deny = append(deny, "svc."+string(rune('a'+i))+".admin")
	}
	c, _ := Compile(&Permissions{Publish: &SubjectPermission{Allow: allow, Deny: deny}})
	b.ReportAllocs()
	for b.Loop() {
		c.CanPublish("svc.j.orders.new")
	}
}

// no_auth_user: a client without credentials gets that user's identity and
// permissions; one with credentials is checked as usual; INFO says no auth
// is required.
func TestNoAuthUser(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	cfg := Config{NoAuthUser: "guest", Users: []User{
		{Name: "admin", Password: "pw"},
		{Name: "guest", Password: "gpw", Permissions: &Permissions{Publish: &SubjectPermission{Allow: []string{"public.>"}}}},
		{NKey: pub},
	}}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Required() || a.InfoAuthRequired() {
		t.Fatalf("Required %v InfoAuthRequired %v", a.Required(), a.InfoAuthRequired())
	}
	id, err := a.Authenticate(Credentials{}, "")
	if err != nil || id.Name != "guest" || id.Perms == nil || !id.Perms.CanPublish("public.x") || id.Perms.CanPublish("private.x") {
		t.Fatalf("no credentials: %+v %v", id, err)
	}
	if id, err := a.Authenticate(Credentials{User: "admin", Password: "pw"}, ""); err != nil || id.Name != "admin" {
		t.Fatalf("admin: %+v %v", id, err)
	}
	for _, c := range []Credentials{{User: "admin", Password: "bad"}, {User: "admin"}, {Password: "gpw"}, {Token: "x"}, {NKey: pub}} {
		if _, err := a.Authenticate(c, "nonce"); !errors.Is(err, ErrAuthorization) {
			t.Errorf("%+v admitted: %v", c, err)
		}
	}
	cfg.NoAuthUser = pub
	if a, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if id, err := a.Authenticate(Credentials{}, ""); err != nil || id.Name != pub {
		t.Fatalf("nkey no_auth_user: %+v %v", id, err)
	}
	for _, bad := range []Config{
		{NoAuthUser: "nobody", Users: cfg.Users},
		{NoAuthUser: "guest", Token: "t"},
		{NoAuthUser: "guest"},
	} {
		if _, err := New(bad); err == nil || !strings.HasPrefix(err.Error(), "no_auth_user: ") {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
	if a, _ := New(Config{Users: cfg.Users}); !a.InfoAuthRequired() {
		t.Error("InfoAuthRequired false without no_auth_user")
	}
}
