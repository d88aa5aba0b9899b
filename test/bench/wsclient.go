package main

// The MQTT load generator's WebSocket transport (MQTT §6): the same raw
// client (mqttclient.go) with its bytes carried in binary WebSocket
// frames, one frame per write, by gorilla/websocket's client. The
// generator batches packets into writes of up to pubFlushSize, so a frame
// holds many packets and a packet may end in the next frame; every broker
// gets the same frames, so the comparison measures the brokers.

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsWriteBuf holds one write of the generator (a publisher's batch) in a
// single frame. The buffers come from a pool and are held only while a
// frame is written, so 10,000 idle connections do not each keep one.
const wsWriteBuf = pubFlushSize + 4<<10

var wsDialer = &websocket.Dialer{
	HandshakeTimeout: mqttTimeout,
	Subprotocols:     []string{"mqtt"},
	ReadBufferSize:   4 << 10, // larger reads bypass it (bufio)
	WriteBufferSize:  wsWriteBuf,
	WriteBufferPool:  &sync.Pool{},
}

// isWSURL reports whether addr is a WebSocket URL rather than host:port.
func isWSURL(addr string) bool {
	return strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://")
}

// dialWS opens a WebSocket connection to url offering the "mqtt"
// subprotocol, and returns it as a byte stream.
func dialWS(url string) (net.Conn, error) {
	ws, resp, err := wsDialer.Dial(url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket handshake with %s: %s: %w", url, resp.Status, err)
		}
		return nil, fmt.Errorf("websocket handshake with %s: %w", url, err)
	}
	return &wsStream{Conn: ws}, nil
}

// wsStream is a WebSocket connection read and written as a byte stream
// (net.Conn): Write sends p as one binary message, Read returns the bytes
// of binary messages in order, across message boundaries. Like
// websocket.Conn it allows one reader and one writer at a time.
type wsStream struct {
	*websocket.Conn
	msg io.Reader // the message being read, nil between messages
}

var _ net.Conn = (*wsStream)(nil)

func (s *wsStream) Read(p []byte) (int, error) {
	for {
		if s.msg == nil {
			typ, r, err := s.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, fmt.Errorf("websocket: a text message from the broker (MQTT allows binary frames only)")
			}
			s.msg = r
		}
		n, err := s.msg.Read(p)
		if err == io.EOF {
			s.msg = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (s *wsStream) Write(p []byte) (int, error) {
	if err := s.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *wsStream) SetDeadline(t time.Time) error {
	_ = s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// Close sends a close frame (1000, normal closure) without waiting for
// the broker's, and closes the socket. It may be called while another
// goroutine reads or writes, as websocket.Conn allows.
func (s *wsStream) Close() error {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = s.WriteControl(websocket.CloseMessage, msg, time.Now().Add(100*time.Millisecond))
	return s.Conn.Close()
}
