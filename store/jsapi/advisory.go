package jsapi

import "time"

// Advisory and metric subjects, as nats-server publishes them. The
// per-stream and per-consumer ones end ".<stream>" or ".<stream>.<consumer>".
const (
	AdvisoryAPI               = "$JS.EVENT.ADVISORY.API"
	AdvisoryStreamCreated     = "$JS.EVENT.ADVISORY.STREAM.CREATED"
	AdvisoryStreamUpdated     = "$JS.EVENT.ADVISORY.STREAM.UPDATED"
	AdvisoryStreamDeleted     = "$JS.EVENT.ADVISORY.STREAM.DELETED"
	AdvisoryConsumerCreated   = "$JS.EVENT.ADVISORY.CONSUMER.CREATED"
	AdvisoryConsumerDeleted   = "$JS.EVENT.ADVISORY.CONSUMER.DELETED"
	AdvisoryConsumerPause     = "$JS.EVENT.ADVISORY.CONSUMER.PAUSE"
	AdvisoryMaxDeliveries     = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
	AdvisoryMsgNaked          = "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED"
	AdvisoryMsgTerminated     = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED"
	AdvisoryConsumerPinned    = "$JS.EVENT.ADVISORY.CONSUMER.PINNED"
	AdvisoryConsumerUnpinned  = "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED"
	MetricConsumerAck         = "$JS.EVENT.METRIC.CONSUMER.ACK"
	TypeAPIAudit              = "io.nats.jetstream.advisory.v1.api_audit"
	TypeStreamAction          = "io.nats.jetstream.advisory.v1.stream_action"
	TypeConsumerAction        = "io.nats.jetstream.advisory.v1.consumer_action"
	TypeConsumerPauseAdvisory = "io.nats.jetstream.advisory.v1.consumer_pause"
	TypeMaxDeliver            = "io.nats.jetstream.advisory.v1.max_deliver"
	TypeNak                   = "io.nats.jetstream.advisory.v1.nak"
	TypeTerminated            = "io.nats.jetstream.advisory.v1.terminated"
	TypeConsumerAckMetric     = "io.nats.jetstream.metric.v1.consumer_ack"
	TypeConsumerGroupPinned   = "io.nats.jetstream.advisory.v1.consumer_group_pinned"
	TypeConsumerGroupUnpinned = "io.nats.jetstream.advisory.v1.consumer_group_unpinned"
	ActionCreated             = "create"
	ActionDeleted             = "delete"
	ActionModified            = "modify"
)

// Event is the head every advisory starts with: its schema type, a unique
// id and when it was made (UTC).
type Event struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Time time.Time `json:"timestamp"`
}

// ClientInfo is the requesting client in an API audit, with nats-server's
// field names; unknown fields are omitted.
type ClientInfo struct {
	Start      *time.Time    `json:"start,omitempty"`
	Host       string        `json:"host,omitempty"`
	ID         uint64        `json:"id,omitempty"`
	Account    string        `json:"acc,omitempty"`
	User       string        `json:"user,omitempty"`
	Name       string        `json:"name,omitempty"`
	Lang       string        `json:"lang,omitempty"`
	Version    string        `json:"ver,omitempty"`
	RTT        time.Duration `json:"rtt,omitempty"`
	Server     string        `json:"server,omitempty"`
	Kind       string        `json:"kind,omitempty"`
	ClientType string        `json:"client_type,omitempty"`
}

// APIAudit reports one answered API request: its subject, request body
// and response body.
type APIAudit struct {
	Event
	Server   string      `json:"server"`
	Client   *ClientInfo `json:"client"`
	Subject  string      `json:"subject"`
	Request  string      `json:"request,omitempty"`
	Response string      `json:"response"`
	Domain   string      `json:"domain,omitempty"`
}

// StreamAction reports a stream created, updated or deleted.
type StreamAction struct {
	Event
	Stream string `json:"stream"`
	Action string `json:"action"`
	Domain string `json:"domain,omitempty"`
}

// ConsumerAction reports a consumer created or deleted.
type ConsumerAction struct {
	Event
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	Action   string `json:"action"`
	Domain   string `json:"domain,omitempty"`
}

// ConsumerPause reports a consumer paused, resumed, or its pause ended.
// PauseUntil is always present (the zero time when resumed), as from
// nats-server.
type ConsumerPause struct {
	Event
	Stream     string    `json:"stream"`
	Consumer   string    `json:"consumer"`
	Paused     bool      `json:"paused"`
	PauseUntil time.Time `json:"pause_until"`
	Domain     string    `json:"domain,omitempty"`
}

// MaxDeliver reports a message that reached the consumer's max_deliver.
type MaxDeliver struct {
	Event
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Domain     string `json:"domain,omitempty"`
}

// DeliveryAdvisory reports a delivery that was naked (Reason always
// empty) or terminated (Reason from "+TERM <reason>").
type DeliveryAdvisory struct {
	Event
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	ConsumerSeq uint64 `json:"consumer_seq"`
	StreamSeq   uint64 `json:"stream_seq"`
	Deliveries  uint64 `json:"deliveries"`
	Reason      string `json:"reason,omitempty"`
	Domain      string `json:"domain,omitempty"`
}

// AckMetric is sampled from acks on consumers with sample_freq: AckTime
// is the nanoseconds from the last delivery to the ack.
type AckMetric struct {
	Event
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	ConsumerSeq uint64 `json:"consumer_seq"`
	StreamSeq   uint64 `json:"stream_seq"`
	AckTime     int64  `json:"ack_time"`
	Deliveries  uint64 `json:"deliveries"`
	Domain      string `json:"domain,omitempty"`
}

// GroupPinned reports that a priority group pinned a new client.
type GroupPinned struct {
	Event
	Account  string `json:"account,omitempty"`
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	Domain   string `json:"domain,omitempty"`
	Group    string `json:"group"`
	PinnedID string `json:"pinned_id"`
}

// GroupUnpinned reports that a priority group lost its pin: Reason is
// "timeout" (priority_timeout passed) or "admin" (CONSUMER.UNPIN).
type GroupUnpinned struct {
	Event
	Account  string `json:"account,omitempty"`
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	Domain   string `json:"domain,omitempty"`
	Group    string `json:"group"`
	Reason   string `json:"reason"`
}
