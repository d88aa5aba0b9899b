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
// only copy and enqueue; they never block. Each stream has one goroutine
// that owns its sequence numbers, limits and dedup state and hands batches
// to the store; acks are sent from the store's commit callback, after the
// fsync.
//
// Back-pressure: a stream's publish mailbox counts the bytes queued. Above
// Config.IngestHighWater (DefaultIngestHighWater, 4 MiB) it asks publishers
// that can wait (NATS clients, MQTT sessions: router.Pacer) to, until the
// stream's goroutine takes the queue into its next batch; at
// Config.IngestLimit (DefaultIngestLimit, 64 MiB) it refuses publishes with
// 429 Too Many Requests, as nats-server's stream ingest queue does.
//
// Confirmations: a publisher that must not acknowledge a message before it
// is on disk (an MQTT QoS 1 publish) sets router.Publisher.Confirm. Each
// stream the message reaches Adds to it and calls Done exactly once: nil
// when the batch holding the message has committed and synced (when its
// PubAck is sent; a duplicate too), the *jsapi.Error of its PubAck when it
// is rejected or its commit fails, ErrStreamStopped when the stream stops
// first. This holds with or without a reply subject, and on no_ack
// streams.
package jetstream
