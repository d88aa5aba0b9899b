// Package store is the root of leafgate's JetStream implementation on
// bbolt. Its subpackages, from the outside in:
//
//   - jetstream: the JetStream service. Streams, consumers and the $JS.API
//     (and $JS.<domain>.API) that nats.go, the nats CLI and the KV and
//     object store clients talk to, attached to the subject router as an
//     internal client; acks and flow control, advisories, message
//     schedules, recovery at start-up and the /jsz data.
//   - jsapi: the JetStream API's wire format, pure: JSON request and
//     response types, advisories, status headers and the error table
//     (errors_table.go, generated from nats-server's errors.json by
//     jsapi/internal/errgen).
//   - msgstore: one stream's messages on disk (bbolt) or in memory, behind
//     one small interface and one conformance suite (msgstore/storetest),
//     with group commit so an acknowledged message is on disk.
//   - schedule: the Nats-Schedule patterns (@at, @every, cron) parsed and
//     their next firing computed; pure, callers pass the time.
//
// Dependencies: jetstream uses jsapi, msgstore and schedule; those three use
// no other store package. Nothing here imports the adapters (mqtt, ws,
// sync); leaf/arch_test.go checks it.
package store
