// Package jsapi is the JetStream API's wire format: the subjects, the JSON
// request and response bodies, the error table and the status headers that
// nats.go, nats.js and the nats CLI send and parse. Field names, omitempty
// choices, err_code numbers and descriptions match nats-server, because
// clients switch on them.
//
// The package is pure: types, encoders and validation, no state. The
// JetStream service (store/jetstream) and the replication code (sync/...)
// both use it.
package jsapi
