// Package retain keeps MQTT retained messages in a JetStream key-value
// bucket, "mqtt_retained" by default (stream KV_mqtt_retained, subjects
// $KV.mqtt_retained.>), so they survive restarts and NATS applications
// read and watch them with the ordinary KV API:
//
//	nats kv watch mqtt_retained
//	nats kv get mqtt_retained sensors.kitchen.temp
//
// A Store holds every retained message in memory as well, indexed by topic
// level, so matching a subscription's filter needs no JetStream request.
//
// It is an internal client of the router and nothing more: it creates the
// bucket with $JS.API requests, stores with KV publishes whose PubAck it
// waits for, and follows the bucket with a KV watch (an ephemeral push
// consumer, deliver last per subject), exactly as an external nats.go
// client would. It knows nothing of JetStream's internals, sessions or
// connections; the broker decides what to retain and what to deliver.
//
// # Keys
//
// The key of a topic is its NATS subject (mqtt/topic's mapping, as for
// publishes: '/' becomes '.', an empty level "/", a '.' inside a level
// "//") when that is a valid KV key ([-/_=.a-zA-Z0-9]+) not starting with
// "_b64."; otherwise it is "_b64." followed by the topic in unpadded
// base64url (RFC 4648 §5):
//
//	sensors/kitchen/temp  → sensors.kitchen.temp
//	/status               → /.status
//	spBv1.0/group/NDATA   → spBv1//0.group.NDATA
//	café/menu             → _b64.Y2Fmw6kvbWVudQ
//	_b64/x                → _b64.X2I2NC94
//
// Key and TopicOf convert. The topic also travels in the message's
// Nmqtt-Topic header, for NATS applications that want it without decoding.
// A value a NATS application puts under a key that is not the key of its
// own topic (say "a/b", whose topic "ab" has the key "ab") is ignored.
//
// # Values
//
// A retained message is stored with its payload as the value, and the
// broker's header block (QoS and MQTT 5 properties, see the broker's
// Nmqtt- headers) plus Nmqtt-Topic, Nmqtt-Expires (RFC 3339, when it
// expires) and Nats-TTL (so JetStream drops it then; the bucket leaves a
// delete marker, which KV watchers see). Clearing one (an empty retained
// payload) is a KV purge whose marker itself goes after 15 minutes.
// A value put by a NATS application (`nats kv put mqtt_retained a.b hi`)
// is a retained message of topic "a/b" without headers; a KV delete or
// purge clears it.
package retain
