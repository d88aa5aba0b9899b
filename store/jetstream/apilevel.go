package jetstream

// APILevel is the JetStream API level this package serves, advertised in
// INFO as api_lvl. It matches nats-server 2.11 (JSApiLevel 1), the release
// whose behaviour leafgate implements: clients use it to tell which
// request fields the server understands.
const APILevel = 1
