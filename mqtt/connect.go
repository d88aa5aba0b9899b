package mqtt

import (
	"math"
	"time"

	"github.com/leafgate/leafgate/leaf/auth"
	"github.com/leafgate/leafgate/mqtt/packet"
)

// neverExpires is the Session Expiry Interval that means "never".
const neverExpires = math.MaxUint32

// onConnect handles the CONNECT packet: checks, authentication, the
// session (new, resumed or taken over), CONNACK, then redelivery.
func (c *conn) onConnect(pkt []byte) error {
	var p packet.Connect
	if err := p.Decode(0, pkt); err != nil {
		c.v = p.Version
		return c.refuse(err)
	}
	c.v = p.Version
	o := &c.b.opts
	if c.v == packet.V5 && p.Props.Has(packet.PropAuthMethod) {
		// No enhanced authentication method is offered (4.12).
		return c.refuseConnect(packet.BadAuthenticationMethod, 0, "authentication method not supported")
	}

	// Authentication. The password doubles as a token.
	if o.Authenticate != nil {
		creds := auth.Credentials{User: string(p.Username), Password: string(p.Password), Token: string(p.Password)}
		id, err := o.Authenticate(creds)
		if err != nil {
			c.b.log.Info("mqtt authentication failed", "remote", c.remote, "user", string(p.Username))
			code := packet.ReasonCode(packet.BadUserNameOrPassword)
			v3 := byte(packet.ConnackBadUserNameOrPassword)
			if !p.UsernameFlag && !p.PasswordFlag {
				code, v3 = packet.NotAuthorized, packet.ConnackNotAuthorized
			}
			return c.refuseConnect(code, v3, "not authorized")
		}
		c.perms = id.Perms
		c.user = id.Name
	}

	clientID := string(p.ClientID)
	assigned := false
	if clientID == "" {
		// The decoder refused an empty id with clean session 0 in 3.1.1
		// [MQTT-3.1.3-8]; 5.0 gets one assigned [MQTT-3.1.3-6].
		clientID = assignClientID()
		assigned = true
	}

	expiry := uint32(0)
	if c.v == packet.V5 {
		if p.Props.Has(packet.PropSessionExpiry) {
			expiry = p.Props.SessionExpiry
		}
	} else if !p.CleanStart {
		expiry = neverExpires // 3.1.1 persistent session
	}
	if max := o.MaxSessionExpiry; max > 0 && time.Duration(expiry)*time.Second > max {
		expiry = uint32(max / time.Second)
	}

	// The will, checked like a publish.
	var w *will
	if p.Will {
		var err error
		if w, err = c.newWill(&p); err != nil {
			return err
		}
	}

	// Limits the client announced (5.0).
	c.mu.Lock()
	c.sendQuota = int(o.MaxInflight)
	if c.v == packet.V5 {
		if p.Props.Has(packet.PropReceiveMaximum) {
			c.sendQuota = min(c.sendQuota, int(p.Props.ReceiveMaximum))
		}
		if p.Props.Has(packet.PropMaximumPacketSize) {
			c.maxOut = int(p.Props.MaximumPacketSize)
		}
		if p.Props.Has(packet.PropTopicAliasMaximum) {
			c.aliasMax = p.Props.TopicAliasMaximum
		}
	}
	c.mu.Unlock()
	if c.v == packet.V5 && o.TopicAliasMaximum > 0 {
		c.aliasIn = make([][]byte, o.TopicAliasMaximum+1)
	}
	c.clientID = clientID
	c.keepAlive = time.Duration(p.KeepAlive) * time.Second
	c.problemInfo = c.v == packet.V5 && (!p.Props.Has(packet.PropRequestProblemInfo) || p.Props.RequestProblemInfo == 1)
	serverKeepAlive := false
	if max := o.MaxKeepAlive; max > 0 && c.v == packet.V5 && (c.keepAlive == 0 || c.keepAlive > max) {
		c.keepAlive = max // Server Keep Alive [MQTT-3.2.2-21]
		serverKeepAlive = true
	}
	c.maxIn = o.MaxPacketSize

	if wr, ok := o.Retained.(interface{ Warm() }); ok && !c.b.warmed.Swap(true) {
		wr.Warm() // the first client: open the retained store now
	}
	s, present := c.b.attach(c, clientID, p.CleanStart, expiry, w)

	// CONNACK [MQTT-3.2.0-1].
	ack := packet.Connack{SessionPresent: present}
	if c.v == packet.V5 {
		pr := &ack.Props
		pr.ReceiveMaximum = o.ReceiveMaximum
		pr.Set(packet.PropReceiveMaximum)
		pr.MaximumPacketSize = uint32(o.MaxPacketSize)
		pr.Set(packet.PropMaximumPacketSize)
		if o.TopicAliasMaximum > 0 {
			pr.TopicAliasMaximum = uint16(o.TopicAliasMaximum)
			pr.Set(packet.PropTopicAliasMaximum)
		}
		if o.Retained == nil {
			pr.RetainAvailable = 0
			pr.Set(packet.PropRetainAvailable)
		}
		if serverKeepAlive {
			pr.ServerKeepAlive = uint16(c.keepAlive / time.Second)
			pr.Set(packet.PropServerKeepAlive)
		}
		if assigned {
			pr.AssignedClientID = []byte(clientID)
			pr.Set(packet.PropAssignedClientID)
		}
		if p.Props.Has(packet.PropSessionExpiry) && expiry != p.Props.SessionExpiry {
			pr.SessionExpiry = expiry // capped by the server
			pr.Set(packet.PropSessionExpiry)
		}
	}
	c.mu.Lock()
	c.out = ack.Append(c.out, c.v)
	c.mu.Unlock()
	c.s = s
	c.st.ident.Store(&connIdent{clientID: c.clientID, user: c.user, s: s, v: byte(c.v)})
	_ = c.nc.SetReadDeadline(time.Time{})
	if c.keepAlive > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.keepAlive * 3 / 2))
	}
	// Queued and unacknowledged messages go out after the CONNACK.
	s.resume(c)
	return nil
}

// refuseConnect answers a refused CONNECT (5.0 reason code, or the 3.1.1
// return code) and returns the error that closes the connection.
func (c *conn) refuseConnect(code packet.ReasonCode, v3 byte, text string) error {
	ack := packet.Connack{Code: code}
	if c.v != packet.V5 {
		ack.Code = packet.ReasonCode(v3)
	}
	c.mu.Lock()
	c.out = ack.Append(c.out, c.v)
	c.mu.Unlock()
	return &refusedError{code: code, text: text}
}

// refusedError ends a connection whose CONNECT was refused (the CONNACK
// said why; no DISCONNECT follows).
type refusedError struct {
	code packet.ReasonCode
	text string
}

func (e *refusedError) Error() string { return "mqtt: connect refused: " + e.text }

// onDisconnect handles the client's DISCONNECT.
func (c *conn) onDisconnect(d *packet.Disconnect) error {
	if c.v == packet.V5 {
		if d.Props.Has(packet.PropSessionExpiry) {
			s := c.s
			s.mu.Lock()
			was := s.expiry
			s.mu.Unlock()
			if was == 0 && d.Props.SessionExpiry != 0 { // [MQTT-3.14.2-2]
				return errProtocol("session expiry set on DISCONNECT after CONNECT had 0")
			}
			s.setExpiry(d.Props.SessionExpiry)
		}
		if d.Code == packet.DisconnectWithWill {
			c.willSent = true
		}
	}
	return errNormal
}
