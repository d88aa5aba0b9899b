package jetstream

// APILevel is the JetStream API level this package serves, advertised in
// INFO as api_lvl and in /jsz and /varz. It is nats-server 2.11's level
// (JSApiLevel 1), the release whose behaviour leafgate implements.
const APILevel = apiLevel
