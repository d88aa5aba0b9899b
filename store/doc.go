// Package store is the root of leafgate's JetStream implementation on
// bbolt. Its subpackages:
//
//   - msgstore: one stream's messages on disk (bbolt) or in memory, behind
//     one small interface, with group commit so an acknowledged message is
//     on disk.
//
// Streams, consumers and the $JS.API build on msgstore and attach to the
// subject router as internal clients; nothing here imports the adapters
// (mqtt, ws, sync).
package store
