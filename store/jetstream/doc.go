// Package jetstream is leafgate's JetStream: streams and consumers on
// msgstore, and the $JS.API that nats.go, the nats CLI and the KV and object
// store clients talk to.
//
// A Service is an internal client of the subject router: it subscribes the
// API subjects ($JS.API.> and, with a domain, $JS.<domain>.API.>), every
// stream's subjects and the ack subjects, and publishes replies and
// deliveries through the same router as every other client. Nothing here
// knows about sockets; the leafnode link later reaches the API the same way
// a local client does.
//
// Concurrency: router callbacks (Deliver) run on publishers' goroutines and
// only copy and enqueue. Each stream has one goroutine that owns its
// sequence numbers, limits and dedup state and hands batches to the store;
// acks are sent from the store's commit callback, after the fsync.
package jetstream
