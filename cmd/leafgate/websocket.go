package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/ws"
)

// startWebSocket starts the WebSocket listener on srv: NATS clients run
// through srv.ServeClient, MQTT clients through the broker (nil: MQTT is
// off, and /mqtt answers 404).
func startWebSocket(cfg *Config, srv *server.Server, mq *mqttService, log *slog.Logger) (net.Addr, error) {
	w := cfg.WebSocket
	lc := server.ListenerConfig{
		Name: "websocket",
		Addr: net.JoinHostPort(w.Host, strconv.Itoa(w.Port)),
	}
	if w.TLS.CertFile != "" {
		tc, err := w.TLS.serverConfig()
		if err != nil {
			return nil, fmt.Errorf("websocket.tls: %w", err)
		}
		lc.TLS, lc.TLSTimeout = tc, w.TLS.Timeout
	}
	// INFO tells WebSocket clients about this listener.
	var info server.ClientOptions
	info.Transport = "websocket"
	info.PingInterval = w.PingInterval
	if w.Advertise != "" {
		info.ConnectURLs = []string{w.Advertise}
	}
	o := ws.Options{
		HandshakeTimeout: w.HandshakeTimeout,
		MaxMessage:       w.maxMessage(cfg),
		Compression:      w.Compression,
		SameOrigin:       w.SameOrigin,
		AllowedOrigins:   w.AllowedOrigins,
		TLS:              lc.TLS != nil,
		UserCookie:       w.UserCookie,
		PassCookie:       w.PassCookie,
		TokenCookie:      w.TokenCookie,
		Logger:           log,
	}
	clientOpts := func(c *ws.Conn, r *ws.Request) server.ClientOptions {
		co := info
		co.TLS = c.TLS()
		if ta, ok := c.LocalAddr().(*net.TCPAddr); ok {
			co.Host, co.Port = w.Host, ta.Port
		}
		co.User, co.Password, co.Token = r.User, r.Password, r.Token
		return co
	}
	o.NATS = func(c *ws.Conn, r *ws.Request) { srv.ServeClient(c, clientOpts(c, r)) }
	o.NATSReject = func(c *ws.Conn, r *ws.Request) { srv.RejectClient(c, clientOpts(c, r)) }
	if mq != nil {
		o.MQTT = mq.broker.Serve
		o.MQTTReject = mq.broker.Reject
	}
	h, err := ws.New(o)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	lc.Serve, lc.Reject = h.Serve, h.Reject
	addr, err := srv.AddListener(lc)
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = " (choose another websocket.port, or set websocket.enabled: false)"
		}
		return nil, fmt.Errorf("websocket.port: %w%s", err, hint)
	}
	vz := &monitor.WebsocketVarz{Host: w.Host, Advertise: w.Advertise, HandshakeTimeout: w.HandshakeTimeout,
		NoTLS: lc.TLS == nil, SameOrigin: w.SameOrigin, AllowedOrigins: w.AllowedOrigins, Compression: w.Compression}
	if ta, ok := addr.(*net.TCPAddr); ok {
		vz.Port = ta.Port
	}
	srv.AddVarz(func(v *monitor.Varz) { v.Websocket = vz })
	return addr, nil
}
