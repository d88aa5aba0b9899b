package ws

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/leafgate/leafgate/leaf/leafnode"
	"github.com/leafgate/leafgate/ws/frame"
)

// The leafnode link's side of nats-server's WebSocket leafnode transport
// (a hub's websocket listener, path /leafnode): the upgrade request a
// soliciting nats-server leaf sends, and its checks of the answer.

// leafnodePath is the path suffix a hub routes to its leafnode code.
const leafnodePath = "/leafnode"

// The permessage-deflate offer a nats-server leaf makes: each message
// compressed on its own both ways, so neither side keeps a compressor.
const (
	pmcExtension  = "permessage-deflate"
	pmcSrvNoCtx   = "server_no_context_takeover"
	pmcCliNoCtx   = "client_no_context_takeover"
	pmcOffer      = pmcExtension + "; " + pmcSrvNoCtx + "; " + pmcCliNoCtx
	noMaskingHdr  = "Nats-No-Masking"
	noMaskingTrue = "true"
)

// maxResponse bounds the upgrade response's status line and headers.
const maxResponse = 16 << 10

// wsGUID is RFC 6455's key suffix for Sec-WebSocket-Accept (§1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// DialLeafnode opens the leafnode link to a hub over WebSocket, as a
// nats-server leaf with a ws:// or wss:// remote does: TCP, TLS for wss://
// (or when o.TLS is set, as nats-server does for a remote with a tls
// block), then the upgrade GET <u's path>/leafnode. It is
// leafnode.Options.DialWebSocket; ctx bounds the whole handshake.
//
// User info in u is not sent (the leafnode CONNECT carries credentials).
// Compression is what the hub agreed to (it may decline the offer); the
// connection masks what it writes unless o.NoMasking was asked and the
// hub echoed Nats-No-Masking.
func DialLeafnode(ctx context.Context, u *url.URL, o leafnode.WSDialOptions) (leafnode.WSConn, error) {
	secure := u.Scheme == "wss" || o.TLS != nil
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if secure {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if o.Wrap != nil {
		nc = o.Wrap(nc)
	}
	c, err := handshake(ctx, nc, u, o, secure)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// handshake runs TLS (secure) and the upgrade on nc, which the caller
// closes on error.
func handshake(ctx context.Context, nc net.Conn, u *url.URL, o leafnode.WSDialOptions, secure bool) (*Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	// A cancelled ctx cuts a read or write in progress short.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if secure {
		cfg := &tls.Config{}
		if o.TLS != nil {
			cfg = o.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	var kb [16]byte
	_, _ = crand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	if _, err := nc.Write(leafUpgradeRequest(u, key, o)); err != nil {
		return nil, fmt.Errorf("websocket upgrade: %w", ctxErr(ctx, err))
	}
	br := bufio.NewReaderSize(&io.LimitedReader{R: nc, N: maxResponse}, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("websocket upgrade: reading the response: %w", ctxErr(ctx, err))
	}
	compress, mask, err := checkUpgrade(resp, key, o)
	if err != nil {
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the deadline may have been cut after the read
	}
	// What came after the response (the hub's INFO, often in the same
	// segment) is the first frames'.
	var pre []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		pre = append([]byte(nil), b...)
	}
	_ = nc.SetDeadline(time.Time{})
	dec := frame.Decoder{Client: true, Compression: compress, MaxMessage: DefaultMaxMessage}
	c := newConn(nc, dec, nil, pre)
	if mask {
		c.maskWrites()
	}
	return c, nil
}

// ctxErr prefers ctx's error when it is what cut an operation short: a
// cancel, or its deadline (which the connection's deadline may beat to
// it by a hair).
func ctxErr(ctx context.Context, err error) error {
	ce := ctx.Err()
	if dl, ok := ctx.Deadline(); ce == nil && ok && isTimeout(err) && !time.Now().Before(dl) {
		ce = context.DeadlineExceeded
	}
	if ce != nil {
		return fmt.Errorf("%w (%v)", ce, err)
	}
	return err
}

// leafUpgradeRequest is the upgrade request for u: the path is u's own (its
// trailing slashes dropped) followed by /leafnode, as nats-server joins
// them.
func leafUpgradeRequest(u *url.URL, key string, o leafnode.WSDialOptions) []byte {
	path := strings.TrimRight(u.EscapedPath(), "/") + leafnodePath
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\n")
	b.WriteString("Host: " + u.Host + "\r\n")
	b.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key: " + key + "\r\n")
	b.WriteString("Sec-WebSocket-Version: 13\r\n")
	if o.Compression {
		b.WriteString("Sec-WebSocket-Extensions: " + pmcOffer + "\r\n")
	}
	if o.NoMasking {
		b.WriteString(noMaskingHdr + ": " + noMaskingTrue + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// acceptKey is the Sec-WebSocket-Accept answer to key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkUpgrade verifies the hub's answer as a nats-server leaf does
// (RFC 6455 §4.1): 101, Upgrade: websocket, Connection: Upgrade, the
// accept key; and what was agreed: compression (only as offered, with
// both no_context_takeover parameters) and whether to mask.
func checkUpgrade(resp *http.Response, key string, o leafnode.WSDialOptions) (compress, mask bool, err error) {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return false, false, fmt.Errorf("hub answered %s%s", resp.Status, bodyHint(resp))
	}
	h := resp.Header
	switch {
	case !strings.EqualFold(h.Get("Upgrade"), "websocket"):
		return false, false, fmt.Errorf("bad Upgrade header %q", h.Get("Upgrade"))
	case !hasToken(h, "Connection", "upgrade"):
		return false, false, fmt.Errorf("bad Connection header %q", h.Get("Connection"))
	case h.Get("Sec-Websocket-Accept") != acceptKey(key):
		return false, false, errors.New("bad Sec-WebSocket-Accept key")
	case h.Get("Sec-Websocket-Protocol") != "":
		return false, false, fmt.Errorf("subprotocol %q was not asked for", h.Get("Sec-Websocket-Protocol"))
	}
	compress, err = checkCompression(h, o.Compression)
	if err != nil {
		return false, false, err
	}
	mask = !o.NoMasking || h.Get(noMaskingHdr) != noMaskingTrue
	return compress, mask, nil
}

// checkCompression reads the extensions the hub agreed to. Only
// permessage-deflate may be there, only if offered, and then with both
// no_context_takeover parameters: without them the hub would keep a
// compression context across messages that this side's per-message
// inflater cannot follow (nats-server refuses it the same way).
func checkCompression(h http.Header, offered bool) (bool, error) {
	agreed := false
	for _, list := range h.Values("Sec-Websocket-Extensions") {
		for ext := range strings.SplitSeq(list, ",") {
			params := strings.Split(ext, ";")
			name := strings.TrimSpace(params[0])
			if name == "" {
				continue
			}
			if !strings.EqualFold(name, pmcExtension) || !offered || agreed {
				return false, fmt.Errorf("extension %q was not asked for", name)
			}
			var srv, cli bool
			for _, p := range params[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				switch k = strings.ToLower(strings.TrimSpace(k)); k {
				case pmcSrvNoCtx:
					srv = true
				case pmcCliNoCtx:
					cli = true
				case "server_max_window_bits":
					// The hub's deflate window: any size inflates.
				case "client_max_window_bits":
					// Not offered; only the full window is what this
					// side's deflater uses.
					if strings.Trim(strings.TrimSpace(v), `"`) != "15" {
						return false, fmt.Errorf("compression negotiation: %s", strings.TrimSpace(p))
					}
				default:
					return false, fmt.Errorf("compression negotiation: unknown parameter %q", strings.TrimSpace(p))
				}
			}
			if !srv || !cli {
				return false, errors.New("compression negotiation: the hub did not agree to no context takeover both ways")
			}
			agreed = true
		}
	}
	return agreed, nil
}

// hasToken reports whether a comma-separated header has token (any case).
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// bodyHint is the start of a refusal's body (why the hub said no: "404
// Not Found: leafnode websocket endpoint not enabled"), if it is text.
func bodyHint(resp *http.Response) string {
	if resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 {
		return "" // a body up to the close: not worth waiting for
	}
	var b [160]byte
	n, _ := io.ReadFull(resp.Body, b[:])
	s := strings.TrimSpace(string(b[:n]))
	if s == "" || !isPrintable(s) {
		return ""
	}
	if line, _, ok := strings.Cut(s, "\n"); ok {
		s = line
	}
	return ": " + s
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < ' ' && r != '\n' && r != '\r' && r != '\t' || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}
