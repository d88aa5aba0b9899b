// Package sourcing replicates into leafgate streams that mirror or source
// other streams — across the leafnode link, a hub's streams in another
// JetStream domain, or local ones — with nats-server's wire contract
// (server/stream.go setupMirrorConsumer, trySetupSourceConsumer,
// processInboundMirrorMsg, processInboundSourceMsg).
//
// For each mirror or source it creates a flow-controlled push consumer at
// the origin, stores what that consumer delivers through the stream's
// jetstream.Replica (a mirror under the origin's sequence numbers, a
// source with a Nats-Stream-Source header), answers flow control only
// once what it confirms is durable, and starts the consumer again from
// the last stored position after a gap, a stall or a refused write.
//
// Unlike nats-server, which sends a create request into the void while
// the link is down and then waits out a 30 s timeout and a back-off, a
// source here asks only when the origin's API has interest in leafgate's
// router, so it starts within a round trip of the link coming back.
//
// Each sourcing stream has one goroutine (follower) that owns its sources'
// state; router callbacks and store completions reach it as events.
package sourcing
