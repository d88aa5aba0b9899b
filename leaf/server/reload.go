package server

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"reflect"
	"strings"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
)

// liveConfig is one consistent version of the server's options (defaults
// applied) and the authenticator compiled from them. It is immutable:
// Reload builds a new one and swaps the Server's pointer, so a reader
// takes one atomic load and sees either the old version or the new one,
// never a mix. Per-message paths load it instead of taking a lock.
type liveConfig struct {
	Options
	auth *auth.Authenticator
}

// fixedOptions are the options Reload cannot change: the listeners are
// bound and the name is in every INFO already sent. Like nats-server
// ("config reload not supported for …"), a reload changing one is refused
// whole.
var fixedOptions = []string{"ServerName", "Listen", "MonitorListen"}

// Reload replaces the server's options with opts, as nats-server's config
// reload does, and returns the names of the Options fields that changed
// (TLS counts as changed when its certificates, CAs, verification or
// minimum version differ, even if the same files were re-read).
//
// New connections use the new options at once. For existing connections:
// a client whose credentials no longer authenticate gets -ERR
// 'Authorization Violation' and is closed; the others get their new
// permissions, and each of their subscriptions the new permissions no
// longer allow is removed with a -ERR 'Permissions Violation for
// Subscription to …', the connection staying up. Over a lowered
// MaxConnections, clients are closed with -ERR 'maximum connections
// exceeded' until the limit holds. MaxPayload and MaxControlLine apply to
// the next read of every client; ping, write and pending limits at their
// next use. Established TLS sessions are left as they are.
//
// opts.Logger is ignored (the server keeps its logger). An error (invalid
// options, or a change to ServerName, Listen or MonitorListen) leaves the
// running configuration unchanged.
func (s *Server) Reload(opts Options) (changed []string, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()

	old := s.conf.Load()
	opts.Logger = old.Logger
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	var fixed []string
	for _, name := range fixedOptions {
		if !reflect.DeepEqual(fieldOf(&old.Options, name), fieldOf(&opts, name)) {
			fixed = append(fixed, name)
		}
	}
	if len(fixed) > 0 {
		return nil, fmt.Errorf("server: config reload not supported for %s", strings.Join(fixed, ", "))
	}
	a, err := auth.New(opts.Auth)
	if err != nil {
		return nil, fmt.Errorf("server: authorization: %w", err)
	}
	changed = diffOptions(&old.Options, &opts)
	if len(changed) == 0 {
		return nil, nil
	}
	next := &liveConfig{Options: opts, auth: a}

	s.mu.Lock()
	s.conf.Store(next)
	clients := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()

	if !reflect.DeepEqual(old.Auth, opts.Auth) {
		for _, c := range clients {
			c.reauthorize(old.auth, a)
		}
	}
	if opts.MaxConnections < old.MaxConnections {
		s.enforceMaxConnections(opts.MaxConnections)
	}
	return changed, nil
}

// fieldOf is the named field of o.
func fieldOf(o *Options, name string) any {
	return reflect.ValueOf(o).Elem().FieldByName(name).Interface()
}

// diffOptions names the fields of Options that differ between a and b,
// comparing TLS configurations by what they do rather than by pointer.
func diffOptions(a, b *Options) []string {
	var out []string
	t := reflect.TypeFor[Options]()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Name
		switch name {
		case "Logger":
			continue
		case "TLS":
			if !sameTLS(a.TLS, b.TLS) {
				out = append(out, name)
			}
			continue
		}
		if !reflect.DeepEqual(fieldOf(a, name), fieldOf(b, name)) {
			out = append(out, name)
		}
	}
	return out
}

// sameTLS reports whether two server TLS configurations present the same
// certificates and check clients the same way.
func sameTLS(a, b *tls.Config) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ClientAuth != b.ClientAuth || a.MinVersion != b.MinVersion || len(a.Certificates) != len(b.Certificates) {
		return false
	}
	for i := range a.Certificates {
		ca, cb := a.Certificates[i].Certificate, b.Certificates[i].Certificate
		if len(ca) != len(cb) {
			return false
		}
		for j := range ca {
			if !bytes.Equal(ca[j], cb[j]) {
				return false
			}
		}
	}
	if (a.ClientCAs == nil) != (b.ClientCAs == nil) {
		return false
	}
	return a.ClientCAs == nil || a.ClientCAs.Equal(b.ClientCAs)
}

// refreshConf brings the read loop's copies of reloadable limits up to
// date: one atomic load per read, nothing per message.
func (c *client) refreshConf() {
	o := c.srv.conf.Load()
	if o == c.rl.conf {
		return
	}
	c.rl.conf = o
	c.parser.MaxControlLine = o.MaxControlLine
	c.parser.MaxPayload = int(o.MaxPayload)
}

// reauthorize checks a connected client against the reloaded
// authenticator, as nats-server does on reload: it is disconnected with
// an authorization violation when its credentials no longer pass, and
// otherwise takes the new permissions, losing the subscriptions they no
// longer allow. Credentials that are configured unchanged are not
// verified again (a bcrypt check per client would make a reload slow).
func (c *client) reauthorize(prev, next *auth.Authenticator) {
	c.mu.Lock()
	if !c.connected || c.closed {
		c.mu.Unlock()
		return
	}
	creds, nonce := c.creds, c.nonceValue
	c.mu.Unlock()

	id, err := next.Recheck(prev, creds, nonce)
	if err != nil {
		c.srv.log.Info("authorization violation after config reload", "cid", c.cid, "remote", c.remote, "user", c.userName())
		c.queueProto(proto.AppendErr(nil, proto.ErrTextAuthViolation))
		c.closeConn(reasonAuthViolation, true)
		return
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.perms.Store(id.Perms)
	var removed []*router.Sub
	if id.Perms != nil {
		for sid, sub := range c.subs {
			if !id.Perms.CanSubscribe(sub.Subject, sub.Queue) {
				delete(c.subs, sid)
				removed = append(removed, sub)
			}
		}
	}
	user := c.user
	c.mu.Unlock()

	for _, sub := range removed {
		_ = c.srv.router.Unsubscribe(sub)
		text := fmt.Sprintf(errTextSubRemoved, sub.Subject, sub.SID)
		if sub.Queue != "" {
			text = fmt.Sprintf(errTextQueueSubRemoved, sub.Subject, sub.Queue, sub.SID)
		}
		c.queueProto(proto.AppendErr(nil, text))
		c.srv.log.Info("subscription removed after config reload: not authorized", "cid", c.cid,
			"user", user, "subject", sub.Subject, "queue", sub.Queue, "sid", string(sub.SID))
	}
}

// The -ERR texts nats-server sends for a subscription a reload no longer
// allows (it formats them with %q).
const (
	errTextSubRemoved      = "Permissions Violation for Subscription to %q (sid %q)"
	errTextQueueSubRemoved = "Permissions Violation for Subscription to %q using queue %q (sid %q)"
)

// userName is the authenticated user, for logs.
func (c *client) userName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

// enforceMaxConnections closes clients, in no particular order (as
// nats-server, which picks by map iteration), until at most max remain.
func (s *Server) enforceMaxConnections(max int) {
	clients := s.clientList()
	if len(clients) <= max {
		return
	}
	excess := clients[:len(clients)-max]
	for _, c := range excess {
		c.queueProto(proto.AppendErr(nil, proto.ErrTextMaxConnections))
		c.closeConn(reasonMaxConnections, true)
	}
	s.log.Info("closed connections to fall within max_connections", "closed", len(excess), "max_connections", max)
}
