package leafnode

import (
	"net/url"
	"testing"
)

// Logs never carry a URL's secrets: a password, or a user without a
// password, which the link sends as a token.
func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats-leaf://hub:7422", "nats-leaf://hub:7422"},
		{"nats-leaf://user:secret@hub:7422", "nats-leaf://user:xxxxx@hub:7422"},
		{"nats-leaf://s3cr3t-token@hub:7422", "nats-leaf://xxxxx@hub:7422"},
		{"tls://user:@hub", "tls://user:xxxxx@hub"},
	} {
		u, err := url.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Redact(u); got != c.want {
			t.Errorf("Redact(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
