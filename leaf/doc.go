// Package leaf is the root of leafgate's core: the local NATS server a
// leafnode is. Its subpackages are the pieces every adapter builds on:
//
//   - subject: subject validation, matching and the subscription index
//   - router:  the subject router all protocols attach to
//   - proto:   the NATS client protocol codec
//   - leafproto: the leafnode protocol codec (hub link operations, INFO and
//     CONNECT, compression negotiation, the hub's -ERR texts)
//   - auth:    authentication and permissions
//   - server:  client connections, listeners, lifecycle
//   - monitor: the HTTP monitoring endpoint
//   - tlsconf: TLS configuration shared by every listener
//
// Nothing under leaf/ may import the adapters (store, sync, mqtt, ws) or the
// binary; arch_test.go enforces that.
package leaf
