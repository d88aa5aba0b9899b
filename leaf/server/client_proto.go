package server

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/leaf/router"
	"github.com/leafgate/leafgate/leaf/subject"
)

// The client implements proto.Handler; these methods run on the read loop.
var _ proto.Handler = (*client)(nil)

// maxPermCache bounds the per-connection publish permission cache.
const maxPermCache = 256

// requireAuth rejects any operation before an authenticating CONNECT when
// the server requires auth, as nats-server does.
func (c *client) requireAuth() error {
	if !c.rl.connected && c.srv.conf.Load().auth.Required() {
		return c.authViolation()
	}
	return nil
}

func (c *client) authViolation() error {
	c.srv.log.Info("authorization violation", "cid", c.cid, "remote", c.remote)
	c.queueProto(proto.AppendErr(nil, proto.ErrTextAuthViolation))
	return &clientError{reason: reasonAuthViolation, text: proto.ErrTextAuthViolation}
}

// Connect handles CONNECT: options, authentication, permissions.
func (c *client) Connect(arg []byte) error {
	// nats-server's defaults for fields CONNECT leaves out: a bare
	// CONNECT {} asks for verbose and pedantic mode.
	opts := proto.Connect{Verbose: true, Pedantic: true, Echo: true}
	if err := json.Unmarshal(arg, &opts); err != nil {
		// nats-server closes without an -ERR on unparsable CONNECT.
		c.srv.log.Info("invalid CONNECT", "cid", c.cid, "remote", c.remote, "err", err)
		return &clientError{reason: reasonProtocolViolation, text: "invalid CONNECT: " + err.Error()}
	}
	creds := auth.Credentials{
		User:     opts.User,
		Password: opts.Pass,
		Token:    opts.AuthToken,
		NKey:     opts.Nkey,
		Sig:      opts.Sig,
	}
	c.cookieCreds(&creds)
	c.mu.Lock()
	nonce := c.nonceValue
	c.mu.Unlock()
	var id *auth.Identity
	for {
		o := c.srv.conf.Load()
		id = nil
		if o.auth.Required() {
			var err error
			if id, err = o.auth.Authenticate(creds, nonce); err != nil {
				return c.authViolation()
			}
		}
		if opts.NoResponders && !opts.Headers {
			c.queueProto(proto.AppendErr(nil, proto.ErrTextNoRespondersRequiresHeaders))
			return &clientError{reason: reasonProtocolViolation, text: proto.ErrTextNoRespondersRequiresHeaders}
		}
		c.mu.Lock()
		// A Reload that swapped the configuration since o was loaded may
		// have checked the connected clients before this one counted as
		// connected: authenticate again against the new one.
		if c.srv.conf.Load() == o {
			break
		}
		c.mu.Unlock()
	}
	// c.mu is held.
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	c.connected = true
	c.echo = opts.Echo
	c.creds = creds
	if id != nil {
		c.user = id.Name
		c.perms.Store(id.Perms)
	} else {
		c.perms.Store(nil)
	}
	// Keep what /connz shows, never the secrets.
	opts.Pass, opts.AuthToken, opts.Sig = "", "", ""
	c.opts = opts
	if c.rtt == 0 {
		c.rtt = time.Since(c.start)
	}
	c.mu.Unlock()

	c.rl.connected = true
	c.rl.verbose = opts.Verbose
	c.rl.pedantic = opts.Pedantic
	c.headers.Store(opts.Headers)
	c.noResponders.Store(opts.NoResponders)
	c.pub.NoEcho = !opts.Echo
	if opts.Verbose {
		c.queueProto(proto.OKLine)
	}
	return nil
}

// Pub handles PUB and HPUB.
func (c *client) Pub(subj, reply, hdr, payload []byte) error {
	if err := c.requireAuth(); err != nil {
		return err
	}
	size := int64(len(payload) + len(hdr))
	c.rl.inMsgs++
	c.rl.inBytes += size
	verbose, perms := c.rl.verbose, c.perms.Load()
	if c.rl.pedantic && !subject.ValidLiteral(subj) {
		// nats-server reports it and still routes the message.
		c.queueProto(proto.AppendErr(nil, proto.ErrTextInvalidPublishSubject))
	}
	if perms != nil && !c.canPublish(perms, subj) {
		c.srv.log.Info("publish permission violation", "cid", c.cid, "user", c.user, "subject", string(subj))
		c.queueProto(proto.AppendErr(nil, fmt.Sprintf(proto.ErrTextPubPermission, subj)))
		return nil
	}
	if verbose {
		c.queueProto(proto.OKLine)
	}
	n := c.srv.router.Publish(&c.pub, subj, reply, hdr, payload)
	if n > 0 {
		c.rl.outMsgs += int64(n)
		c.rl.outBytes += int64(n) * size
	} else if len(reply) > 0 && c.noResponders.Load() {
		c.sendNoResponders(subj, reply)
	}
	return nil
}

// canPublish checks publish permissions, with a per-connection cache, and
// falls back on allow_responses grants for reply subjects.
func (c *client) canPublish(perms *auth.Checker, subj []byte) bool {
	if perms != c.permsOf {
		// Reload replaced the permissions: forget the old decisions.
		c.permsOf = perms
		clear(c.permCache)
	}
	allowed, ok := c.permCache[string(subj)]
	if !ok {
		allowed = perms.CanPublish(string(subj))
		if c.permCache == nil || len(c.permCache) >= maxPermCache {
			c.permCache = make(map[string]bool)
		}
		c.permCache[string(subj)] = allowed
	}
	if allowed {
		return true
	}
	if perms.Responses() == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.replies[string(subj)]
	if g == nil {
		return false
	}
	if !g.expires.IsZero() && time.Now().After(g.expires) {
		delete(c.replies, string(subj))
		return false
	}
	if g.left--; g.left <= 0 {
		delete(c.replies, string(subj))
	}
	return true
}

// sendNoResponders answers a request nobody subscribes to with a 503 status
// message on the requester's own reply subscription, as nats-server does.
func (c *client) sendNoResponders(subj, reply []byte) {
	res := c.srv.router.Match(reply)
	var sub *router.Sub
	for _, s := range res.Plain {
		if s.Receiver == router.Receiver(c) {
			sub = s
			break
		}
	}
	if sub == nil {
		return
	}
	hdr := make([]byte, 0, 48+len(subj))
	hdr = proto.AppendStatusLine(hdr, 503, "")
	hdr = append(hdr, "Nats-Subject: "...)
	hdr = append(hdr, subj...)
	hdr = append(hdr, "\r\n\r\n"...)
	buf := proto.AppendHMsgLine(nil, reply, sub.SID, nil, len(hdr), len(hdr))
	buf = append(buf, hdr...)
	buf = append(buf, '\r', '\n')
	c.queueProto(buf)
}

// Sub handles SUB. Errors are reported and the connection stays open, as
// nats-server does.
func (c *client) Sub(subj, queue, sid []byte) error {
	if err := c.requireAuth(); err != nil {
		return err
	}
	if !subject.ValidPattern(subj) || (queue != nil && !subject.ValidQueue(queue)) {
		c.queueProto(proto.AppendErr(nil, proto.ErrTextInvalidSubject))
		return nil
	}
	perms, verbose := c.perms.Load(), c.rl.verbose
	if perms != nil && !perms.CanSubscribe(string(subj), string(queue)) {
		c.srv.log.Info("subscribe permission violation", "cid", c.cid, "user", c.user, "subject", string(subj))
		c.queueProto(proto.AppendErr(nil, subPermissionText(subj, queue)))
		return nil
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	if now := c.perms.Load(); now != perms && !now.CanSubscribe(string(subj), string(queue)) {
		// Reload narrowed the permissions since the check above; it
		// stored them under c.mu, so this check cannot miss it.
		c.mu.Unlock()
		c.queueProto(proto.AppendErr(nil, subPermissionText(subj, queue)))
		return nil
	}
	if max := c.srv.conf.Load().MaxSubscriptions; max > 0 && len(c.subs) >= max {
		c.mu.Unlock()
		c.queueProto(proto.AppendErr(nil, proto.ErrTextMaxSubscriptions))
		return nil
	}
	if _, dup := c.subs[string(sid)]; dup {
		// Like nats-server: a SUB reusing a live sid is a no-op.
		c.mu.Unlock()
		if verbose {
			c.queueProto(proto.OKLine)
		}
		return nil
	}
	sub := &router.Sub{
		Subject:  string(subj),
		Queue:    string(queue),
		SID:      append([]byte(nil), sid...),
		Receiver: c,
	}
	c.subs[string(sid)] = sub
	c.mu.Unlock()

	if err := c.srv.router.Subscribe(sub); err != nil {
		c.mu.Lock()
		if c.subs != nil {
			delete(c.subs, string(sid))
		}
		c.mu.Unlock()
		c.queueProto(proto.AppendErr(nil, proto.ErrTextInvalidSubject))
		return nil
	}
	// A close that ran between registering the sid and subscribing missed
	// this subscription; take it back out.
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		_ = c.srv.router.Unsubscribe(sub)
		return errClosed
	}
	if verbose {
		c.queueProto(proto.OKLine)
	}
	return nil
}

// Unsub handles UNSUB, with an optional auto-unsubscribe count.
func (c *client) Unsub(sid []byte, max int) error {
	if err := c.requireAuth(); err != nil {
		return err
	}
	verbose := c.rl.verbose
	c.mu.Lock()
	sub := c.subs[string(sid)]
	remove := false
	if sub != nil {
		if max > 0 && int64(max) > sub.Delivered() {
			sub.SetMax(int64(max))
		} else {
			delete(c.subs, string(sid))
			remove = true
		}
	}
	c.mu.Unlock()
	if remove {
		_ = c.srv.router.Unsubscribe(sub)
	}
	if verbose {
		c.queueProto(proto.OKLine)
	}
	return nil
}

// Ping answers PING with PONG.
func (c *client) Ping() error {
	if err := c.requireAuth(); err != nil {
		return err
	}
	c.queueProto(proto.PongLine)
	return nil
}

// Pong records the answer to our PING and the round-trip time.
func (c *client) Pong() error {
	if err := c.requireAuth(); err != nil {
		return err
	}
	c.mu.Lock()
	c.pingsOut = 0
	if !c.rttStart.IsZero() {
		c.rtt = time.Since(c.rttStart)
		c.rttStart = time.Time{}
	}
	c.mu.Unlock()
	return nil
}

// subPermissionText is the -ERR text for a refused subscription.
func subPermissionText(subj, queue []byte) string {
	if queue != nil {
		return fmt.Sprintf(proto.ErrTextSubPermissionQueue, subj, queue)
	}
	return fmt.Sprintf(proto.ErrTextSubPermission, subj)
}
