package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/leafgate/leafgate/leaf/monitor"
	"github.com/leafgate/leafgate/leaf/server"
	"github.com/leafgate/leafgate/mqtt"
	"github.com/leafgate/leafgate/mqtt/retain"
	"github.com/leafgate/leafgate/mqtt/sessstore"
	"github.com/leafgate/leafgate/mqtt/topic"
	"github.com/leafgate/leafgate/store/jetstream"
)

// mqttService is the running MQTT side: the broker, its session store and
// (with JetStream) its retained messages.
type mqttService struct {
	broker   *mqtt.Broker
	mu       sync.Mutex // guards st, which the broker may open later
	st       *sessstore.Store
	retained *mqtt.LazyRetain
	addr     net.Addr
}

// startMQTT starts the MQTT listener on srv. Persistent sessions are kept
// under the JetStream store directory; without JetStream they live in
// memory only, and retain is not available.
func startMQTT(cfg *Config, srv *server.Server, js *jetstream.Service, log *slog.Logger) (*mqttService, error) {
	m := cfg.MQTT
	opts := mqtt.Options{
		Router:           srv.Router(),
		NextCID:          srv.NextCID,
		Logger:           log,
		Authenticate:     srv.Authenticate,
		MaxPacketSize:    int(m.MaxPacketSize),
		ReceiveMaximum:   uint16(m.ReceiveMaximum),
		MaxInflight:      uint16(m.MaxInflight),
		MaxQueued:        m.MaxQueuedMessages,
		MaxQueuedBytes:   int(m.MaxQueuedBytes),
		MaxSessionExpiry: m.MaxSessionExpiry,
		MaxKeepAlive:     m.MaxKeepAlive,
		ConnectTimeout:   m.ConnectTimeout,
		MaxPending:       int(min(cfg.MaxPending, 64<<20)),
	}
	opts.TopicAliasMaximum = m.TopicAliasMaximum
	if m.TopicAliasMaximum == 0 {
		opts.TopicAliasMaximum = -1 // 0 in the file: none
	}
	qos := byte(m.NATSQoS)
	opts.NATSQoS = &qos
	svc := &mqttService{}
	if js != nil {
		so := sessstore.Options{
			Path:    filepath.Join(cfg.JetStream.StoreDir, "mqtt", "sessions.db"),
			Reserve: js.Reserve(), // one reserve for every file of the store
			Logger:  log,
		}
		if _, err := os.Stat(so.Path); err == nil {
			// Sessions to restore: open now.
			st, err := sessstore.Open(so)
			if err != nil {
				return nil, fmt.Errorf("mqtt sessions: %w", err)
			}
			svc.setStore(st)
			opts.Sessions = st
		} else {
			// None yet: opened for the first persistent session.
			opts.OpenSessions = func() (*sessstore.Store, error) {
				st, err := sessstore.Open(so)
				if err == nil {
					svc.setStore(st)
				}
				return st, err
			}
		}
		if m.RetainedBucket != "" {
			// Opened when the first MQTT client connects: an idle
			// gateway runs no KV watch.
			bucket := m.RetainedBucket
			svc.retained = mqtt.NewLazyRetain(func() (*retain.Store, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				return retain.Open(ctx, srv.Router(), retain.Options{Bucket: bucket, Logger: log})
			}, func(err error) {
				log.Error("mqtt retained messages unavailable", "key", "mqtt.retained_bucket", "bucket", bucket, "err", err)
			})
			opts.Retained = svc.retained
			// Retained state changes only through MQTT retain semantics.
			opts.Reserved = append(slices.Clone(topic.Internal), "$KV."+bucket+".")
		}
	} else {
		log.Warn("mqtt without jetstream: sessions are kept in memory only and retain is not available")
	}
	b, err := mqtt.New(opts)
	if err != nil {
		svc.close()
		return nil, err
	}
	svc.broker = b
	srv.AddConnz(b.ConnInfos)
	lc := server.ListenerConfig{
		Name:   "mqtt",
		Addr:   net.JoinHostPort(m.Host, strconv.Itoa(m.Port)),
		Serve:  b.Serve,
		Reject: b.Reject,
	}
	if m.TLS.CertFile != "" {
		tc, err := m.TLS.serverConfig()
		if err != nil {
			svc.close()
			return nil, fmt.Errorf("mqtt.tls: %w", err)
		}
		lc.TLS, lc.TLSTimeout = tc, m.TLS.Timeout
	}
	addr, err := srv.AddListener(lc)
	if err != nil {
		svc.close()
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			// Often mosquitto, installed on many gateways, holding 1883.
			hint = " (is another MQTT broker running? choose another mqtt.port, or set mqtt.enabled: false)"
		}
		return nil, fmt.Errorf("mqtt.port: %w%s", err, hint)
	}
	svc.addr = addr
	vz := &monitor.MQTTVarz{Host: m.Host}
	if ta, ok := addr.(*net.TCPAddr); ok {
		vz.Port = ta.Port
	}
	if lc.TLS != nil {
		vz.TLSTimeout = m.TLS.Timeout.Seconds()
	}
	srv.AddVarz(func(v *monitor.Varz) { v.MQTT = vz })
	return svc, nil
}

// close stops the broker and closes its stores, after the server has shut
// its connections down.
func (s *mqttService) close() {
	if s.broker != nil {
		s.broker.Close()
	}
	if s.retained != nil {
		s.retained.Close()
	}
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if st != nil {
		_ = st.Close()
	}
}

func (s *mqttService) setStore(st *sessstore.Store) {
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
}
