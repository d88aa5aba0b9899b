package jetstream

// APILevel is the JetStream API level this package serves, advertised in
// INFO as api_lvl and in /jsz and /varz. It is nats-server 2.11's level
// (JSApiLevel 1), the release whose behaviour leafgate implements.
//
// Level 2 (nats-server 2.12, server/jetstream_versioning.go) is message
// counters, atomic batch publish, message schedules and async persist.
// leafgate implements schedules and refuses the other three, so it stays
// at 1: a client that requires level 2 would otherwise count on features
// that are refused. Schedules are served without any level header (nats.go
// sends none for them); a request that carries Nats-Required-Api-Level: 2
// is refused by levelTooHigh like any other, schedules or not, so what is
// refused always agrees with what is advertised.
const APILevel = apiLevel
