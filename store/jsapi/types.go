package jsapi

import (
	"fmt"
	"time"
)

// Retention, discard, storage and the consumer policies travel as strings.
type (
	RetentionPolicy string
	DiscardPolicy   string
	StorageType     string
	Compression     string
	DeliverPolicy   string
	AckPolicy       string
	ReplayPolicy    string
)

const (
	LimitsPolicy    RetentionPolicy = "limits"
	InterestPolicy  RetentionPolicy = "interest"
	WorkQueuePolicy RetentionPolicy = "workqueue"

	DiscardOld DiscardPolicy = "old"
	DiscardNew DiscardPolicy = "new"

	FileStorage   StorageType = "file"
	MemoryStorage StorageType = "memory"

	NoCompression Compression = "none"
	S2Compression Compression = "s2"

	DeliverAll            DeliverPolicy = "all"
	DeliverLast           DeliverPolicy = "last"
	DeliverNew            DeliverPolicy = "new"
	DeliverByStartSeq     DeliverPolicy = "by_start_sequence"
	DeliverByStartTime    DeliverPolicy = "by_start_time"
	DeliverLastPerSubject DeliverPolicy = "last_per_subject"

	AckNone     AckPolicy = "none"
	AckAll      AckPolicy = "all"
	AckExplicit AckPolicy = "explicit"
	// AckFlowControl (nats-server 2.14, ADR-60) acks like AckAll, by the
	// flow-control replies of a stream sourcing the consumer's stream.
	AckFlowControl AckPolicy = "flow_control"

	ReplayInstant  ReplayPolicy = "instant"
	ReplayOriginal ReplayPolicy = "original"
)

// StreamConfig is a stream's configuration as clients send and read it.
type StreamConfig struct {
	Name                   string                  `json:"name"`
	Description            string                  `json:"description,omitempty"`
	Subjects               []string                `json:"subjects,omitempty"`
	Retention              RetentionPolicy         `json:"retention"`
	MaxConsumers           int                     `json:"max_consumers"`
	MaxMsgs                int64                   `json:"max_msgs"`
	MaxBytes               int64                   `json:"max_bytes"`
	MaxAge                 time.Duration           `json:"max_age"`
	MaxMsgsPer             int64                   `json:"max_msgs_per_subject"`
	MaxMsgSize             int32                   `json:"max_msg_size,omitempty"`
	Discard                DiscardPolicy           `json:"discard"`
	Storage                StorageType             `json:"storage"`
	Replicas               int                     `json:"num_replicas"`
	NoAck                  bool                    `json:"no_ack,omitempty"`
	Duplicates             time.Duration           `json:"duplicate_window,omitempty"`
	Placement              *Placement              `json:"placement,omitempty"`
	Mirror                 *StreamSource           `json:"mirror,omitempty"`
	Sources                []*StreamSource         `json:"sources,omitempty"`
	Compression            Compression             `json:"compression"`
	FirstSeq               uint64                  `json:"first_seq,omitempty"`
	SubjectTransform       *SubjectTransformConfig `json:"subject_transform,omitempty"`
	RePublish              *RePublish              `json:"republish,omitempty"`
	AllowDirect            bool                    `json:"allow_direct"`
	MirrorDirect           bool                    `json:"mirror_direct"`
	DiscardNewPer          bool                    `json:"discard_new_per_subject,omitempty"`
	Sealed                 bool                    `json:"sealed"`
	DenyDelete             bool                    `json:"deny_delete"`
	DenyPurge              bool                    `json:"deny_purge"`
	AllowRollup            bool                    `json:"allow_rollup_hdrs"`
	ConsumerLimits         StreamConsumerLimits    `json:"consumer_limits"`
	AllowMsgTTL            bool                    `json:"allow_msg_ttl"`
	SubjectDeleteMarkerTTL time.Duration           `json:"subject_delete_marker_ttl,omitempty"`
	AllowMsgCounter        bool                    `json:"allow_msg_counter,omitempty"` // refused: not implemented
	AllowAtomicPublish     bool                    `json:"allow_atomic,omitempty"`      // refused: not implemented
	AllowMsgSchedules      bool                    `json:"allow_msg_schedules,omitempty"`
	PersistMode            PersistMode             `json:"persist_mode,omitempty"`  // only the default is accepted
	AllowBatchPublish      bool                    `json:"allow_batched,omitempty"` // refused: not implemented
	Metadata               map[string]string       `json:"metadata,omitempty"`
}

// PersistMode is a stream's persist_mode: "default" (every write flushed,
// kept as "" so it is not echoed, as nats-server omits it) or "async".
type PersistMode string

// Persist modes.
const (
	DefaultPersistMode PersistMode = ""
	AsyncPersistMode   PersistMode = "async"
)

// UnmarshalJSON accepts what nats-server accepts: "default", "async", "".
func (pm *PersistMode) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"default"`, `""`:
		*pm = DefaultPersistMode
	case `"async"`:
		*pm = AsyncPersistMode
	default:
		return fmt.Errorf("can not unmarshal %q", b)
	}
	return nil
}

// Placement is accepted for compatibility; a leafnode has one placement.
type Placement struct {
	Cluster string   `json:"cluster,omitempty"`
	Tags    []string `json:"tags,omitempty"`
}

// StreamSource names a stream to mirror or source from.
type StreamSource struct {
	Name              string                   `json:"name"`
	OptStartSeq       uint64                   `json:"opt_start_seq,omitempty"`
	OptStartTime      *time.Time               `json:"opt_start_time,omitempty"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
	External          *ExternalStream          `json:"external,omitempty"`
	// Consumer names a durable the origin already has (nats-server 2.14,
	// ADR-60): the source resets it instead of creating one.
	Consumer *StreamConsumerSource `json:"consumer,omitempty"`
}

// StreamConsumerSource is a pre-created durable consumer a mirror or
// source uses: its name and the subject it delivers to.
type StreamConsumerSource struct {
	Name           string `json:"name,omitempty"`
	DeliverSubject string `json:"deliver_subject,omitempty"`
}

// StreamSourceInfo is how a mirror or source is doing, in STREAM.INFO.
type StreamSourceInfo struct {
	Name              string                   `json:"name"`
	External          *ExternalStream          `json:"external,omitempty"`
	Lag               uint64                   `json:"lag"`
	Seq               uint64                   `json:"seq,omitempty"`
	Active            time.Duration            `json:"active"`
	Error             *Error                   `json:"error,omitempty"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
}

// ExternalStream locates a stream in another JetStream domain.
type ExternalStream struct {
	APIPrefix     string `json:"api"`
	DeliverPrefix string `json:"deliver"`
}

// SubjectTransformConfig maps subjects matching Source onto Destination.
type SubjectTransformConfig struct {
	Source      string `json:"src"`
	Destination string `json:"dest"`
}

// RePublish republishes stored messages matching Source to Destination.
type RePublish struct {
	Source      string `json:"src,omitempty"`
	Destination string `json:"dest"`
	HeadersOnly bool   `json:"headers_only,omitempty"`
}

// StreamConsumerLimits are defaults and caps for the stream's consumers.
type StreamConsumerLimits struct {
	InactiveThreshold time.Duration `json:"inactive_threshold,omitempty"`
	MaxAckPending     int           `json:"max_ack_pending,omitempty"`
}

// StreamState is a stream's contents summary.
type StreamState struct {
	Msgs        uint64            `json:"messages"`
	Bytes       uint64            `json:"bytes"`
	FirstSeq    uint64            `json:"first_seq"`
	FirstTime   time.Time         `json:"first_ts"`
	LastSeq     uint64            `json:"last_seq"`
	LastTime    time.Time         `json:"last_ts"`
	NumSubjects int               `json:"num_subjects,omitempty"`
	Subjects    map[string]uint64 `json:"subjects,omitempty"`
	NumDeleted  int               `json:"num_deleted,omitempty"`
	Deleted     []uint64          `json:"deleted,omitempty"`
	Consumers   int               `json:"consumer_count"`
}

// StreamInfo is what STREAM.INFO, CREATE and UPDATE return.
type StreamInfo struct {
	Config    StreamConfig        `json:"config"`
	Created   time.Time           `json:"created"`
	State     StreamState         `json:"state"`
	Domain    string              `json:"domain,omitempty"`
	Mirror    *StreamSourceInfo   `json:"mirror,omitempty"`
	Sources   []*StreamSourceInfo `json:"sources,omitempty"`
	TimeStamp time.Time           `json:"ts"`
}

// PubAck answers a publish on a stream subject.
type PubAck struct {
	Stream    string `json:"stream"`
	Sequence  uint64 `json:"seq"`
	Domain    string `json:"domain,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// PubAckResponse is a PubAck or an error.
type PubAckResponse struct {
	Error *Error `json:"error,omitempty"`
	*PubAck
}

// ConsumerConfig is a consumer's configuration.
type ConsumerConfig struct {
	Durable            string            `json:"durable_name,omitempty"`
	Name               string            `json:"name,omitempty"`
	Description        string            `json:"description,omitempty"`
	DeliverPolicy      DeliverPolicy     `json:"deliver_policy"`
	OptStartSeq        uint64            `json:"opt_start_seq,omitempty"`
	OptStartTime       *time.Time        `json:"opt_start_time,omitempty"`
	AckPolicy          AckPolicy         `json:"ack_policy"`
	AckWait            time.Duration     `json:"ack_wait,omitempty"`
	MaxDeliver         int               `json:"max_deliver,omitempty"`
	BackOff            []time.Duration   `json:"backoff,omitempty"`
	FilterSubject      string            `json:"filter_subject,omitempty"`
	FilterSubjects     []string          `json:"filter_subjects,omitempty"`
	ReplayPolicy       ReplayPolicy      `json:"replay_policy"`
	RateLimit          uint64            `json:"rate_limit_bps,omitempty"`
	SampleFrequency    string            `json:"sample_freq,omitempty"`
	MaxWaiting         int               `json:"max_waiting,omitempty"`
	MaxAckPending      int               `json:"max_ack_pending,omitempty"`
	FlowControl        bool              `json:"flow_control,omitempty"`
	HeadersOnly        bool              `json:"headers_only,omitempty"`
	MaxRequestBatch    int               `json:"max_batch,omitempty"`
	MaxRequestExpires  time.Duration     `json:"max_expires,omitempty"`
	MaxRequestMaxBytes int               `json:"max_bytes,omitempty"`
	DeliverSubject     string            `json:"deliver_subject,omitempty"`
	DeliverGroup       string            `json:"deliver_group,omitempty"`
	Heartbeat          time.Duration     `json:"idle_heartbeat,omitempty"`
	InactiveThreshold  time.Duration     `json:"inactive_threshold,omitempty"`
	Replicas           int               `json:"num_replicas"`
	MemoryStorage      bool              `json:"mem_storage,omitempty"`
	Direct             bool              `json:"direct,omitempty"`   // a mirror's or source's consumer: not stored, not listed
	Sourcing           bool              `json:"sourcing,omitempty"` // created by a stream sourcing this one (nats-server 2.14)
	Metadata           map[string]string `json:"metadata,omitempty"`
	PauseUntil         *time.Time        `json:"pause_until,omitempty"`
	PriorityGroups     []string          `json:"priority_groups,omitempty"`
	PriorityPolicy     PriorityPolicy    `json:"priority_policy,omitempty"`
	PinnedTTL          time.Duration     `json:"priority_timeout,omitempty"`
}

// PriorityPolicy decides which waiting pull requests of a priority group
// get messages. The zero value is "none": nats-server omits it on the wire,
// so "none" decodes to it.
type PriorityPolicy string

// Priority policies.
const (
	PriorityNone         PriorityPolicy = ""
	PriorityOverflow     PriorityPolicy = "overflow"
	PriorityPinnedClient PriorityPolicy = "pinned_client"
	PriorityPrioritized  PriorityPolicy = "prioritized"
)

// UnmarshalJSON accepts the policies nats-server knows and refuses others
// with its message.
func (p *PriorityPolicy) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"none"`:
		*p = PriorityNone
	case `"overflow"`:
		*p = PriorityOverflow
	case `"pinned_client"`:
		*p = PriorityPinnedClient
	case `"prioritized"`:
		*p = PriorityPrioritized
	default:
		return fmt.Errorf("unknown priority policy: %v", string(b))
	}
	return nil
}

// PriorityGroupState is a priority group's entry in ConsumerInfo. PinnedTS
// is a time.Time, so it is always present (nats-server's omitempty does not
// omit a zero time).
type PriorityGroupState struct {
	Group          string    `json:"group"`
	PinnedClientID string    `json:"pinned_client_id,omitempty"`
	PinnedTS       time.Time `json:"pinned_ts,omitempty"`
}

// SequenceInfo is a consumer position in both sequence spaces.
type SequenceInfo struct {
	Consumer uint64     `json:"consumer_seq"`
	Stream   uint64     `json:"stream_seq"`
	Last     *time.Time `json:"last_active,omitempty"`
}

// ConsumerInfo is what consumer CREATE and INFO return.
type ConsumerInfo struct {
	Stream         string               `json:"stream_name"`
	Name           string               `json:"name"`
	Created        time.Time            `json:"created"`
	Config         *ConsumerConfig      `json:"config,omitempty"`
	Delivered      SequenceInfo         `json:"delivered"`
	AckFloor       SequenceInfo         `json:"ack_floor"`
	NumAckPending  int                  `json:"num_ack_pending"`
	NumRedelivered int                  `json:"num_redelivered"`
	NumWaiting     int                  `json:"num_waiting"`
	NumPending     uint64               `json:"num_pending"`
	PushBound      bool                 `json:"push_bound,omitempty"`
	Paused         bool                 `json:"paused,omitempty"`
	PauseRemaining time.Duration        `json:"pause_remaining,omitempty"`
	TimeStamp      time.Time            `json:"ts"`
	PriorityGroups []PriorityGroupState `json:"priority_groups,omitempty"`
}

// AccountLimits are the account's JetStream limits (-1: unlimited).
type AccountLimits struct {
	MaxMemory            int64 `json:"max_memory"`
	MaxStore             int64 `json:"max_storage"`
	MaxStreams           int   `json:"max_streams"`
	MaxConsumers         int   `json:"max_consumers"`
	MaxAckPending        int   `json:"max_ack_pending"`
	MemoryMaxStreamBytes int64 `json:"memory_max_stream_bytes"`
	StoreMaxStreamBytes  int64 `json:"storage_max_stream_bytes"`
	MaxBytesRequired     bool  `json:"max_bytes_required"`
}

// APIStats counts API requests.
type APIStats struct {
	Level  int    `json:"level"`
	Total  uint64 `json:"total"`
	Errors uint64 `json:"errors"`
}

// AccountInfo is $JS.API.INFO's answer.
type AccountInfo struct {
	Memory         uint64        `json:"memory"`
	Store          uint64        `json:"storage"`
	ReservedMemory uint64        `json:"reserved_memory"`
	ReservedStore  uint64        `json:"reserved_storage"`
	Streams        int           `json:"streams"`
	Consumers      int           `json:"consumers"`
	Limits         AccountLimits `json:"limits"`
	Domain         string        `json:"domain,omitempty"`
	API            APIStats      `json:"api"`
}

// Paged is the paging block of list and names responses.
type Paged struct {
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// PagedRequest is the paging block of list and names requests.
type PagedRequest struct {
	Offset int `json:"offset"`
}

// StreamInfoRequest is STREAM.INFO's optional body.
type StreamInfoRequest struct {
	PagedRequest
	DeletedDetails bool   `json:"deleted_details,omitempty"`
	SubjectsFilter string `json:"subjects_filter,omitempty"`
}

// StreamNamesRequest filters STREAM.NAMES and STREAM.LIST by subject.
type StreamNamesRequest struct {
	PagedRequest
	Subject string `json:"subject,omitempty"`
}

// StreamPurgeRequest is STREAM.PURGE's optional body.
type StreamPurgeRequest struct {
	Sequence uint64 `json:"seq,omitempty"`
	Subject  string `json:"filter,omitempty"`
	Keep     uint64 `json:"keep,omitempty"`
}

// MsgGetRequest is STREAM.MSG.GET's and DIRECT.GET's body.
type MsgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// MsgDeleteRequest is STREAM.MSG.DELETE's body.
type MsgDeleteRequest struct {
	Seq     uint64 `json:"seq"`
	NoErase bool   `json:"no_erase,omitempty"`
}

// StoredMsg is STREAM.MSG.GET's message.
type StoredMsg struct {
	Subject  string    `json:"subject"`
	Sequence uint64    `json:"seq"`
	Header   []byte    `json:"hdrs,omitempty"`
	Data     []byte    `json:"data,omitempty"`
	Time     time.Time `json:"time"`
}

// CreateConsumerRequest is the body of the consumer create subjects.
type CreateConsumerRequest struct {
	Stream string         `json:"stream_name"`
	Config ConsumerConfig `json:"config"`
	Action string         `json:"action"`
}

// Consumer create actions.
const (
	ActionCreateOrUpdate = ""
	ActionUpdate         = "update"
	ActionCreate         = "create"
)

// NextRequest is a pull consumer's MSG.NEXT body.
type NextRequest struct {
	Expires   time.Duration `json:"expires,omitempty"`
	Batch     int           `json:"batch,omitempty"`
	MaxBytes  int           `json:"max_bytes,omitempty"`
	NoWait    bool          `json:"no_wait,omitempty"`
	Heartbeat time.Duration `json:"idle_heartbeat,omitempty"`
	PriorityGroup
}

// PriorityGroup is the priority part of a pull request: the group it pulls
// for, the overflow thresholds, the pin id it holds, and its priority (0
// first, 9 last).
type PriorityGroup struct {
	Group         string `json:"group,omitempty"`
	MinPending    int64  `json:"min_pending,omitempty"`
	MinAckPending int64  `json:"min_ack_pending,omitempty"`
	ID            string `json:"id,omitempty"`
	Priority      int    `json:"priority,omitempty"`
}

// ConsumerUnpinRequest is CONSUMER.UNPIN's body.
type ConsumerUnpinRequest struct {
	Group string `json:"group"`
}

// ConsumerResetRequest is CONSUMER.RESET's optional body: no sequence
// means back to the ack floor.
type ConsumerResetRequest struct {
	Seq uint64 `json:"seq,omitempty"`
}

// ConsumerPauseRequest is CONSUMER.PAUSE's body.
type ConsumerPauseRequest struct {
	PauseUntil time.Time `json:"pause_until,omitempty"`
}

// Response is the envelope every API answer carries.
type Response struct {
	Type  string `json:"type"`
	Error *Error `json:"error,omitempty"`
}

// Response types, one per API answer.
const (
	TypeAccountInfo    = "io.nats.jetstream.api.v1.account_info_response"
	TypeStreamCreate   = "io.nats.jetstream.api.v1.stream_create_response"
	TypeStreamUpdate   = "io.nats.jetstream.api.v1.stream_update_response"
	TypeStreamDelete   = "io.nats.jetstream.api.v1.stream_delete_response"
	TypeStreamInfo     = "io.nats.jetstream.api.v1.stream_info_response"
	TypeStreamList     = "io.nats.jetstream.api.v1.stream_list_response"
	TypeStreamNames    = "io.nats.jetstream.api.v1.stream_names_response"
	TypeStreamPurge    = "io.nats.jetstream.api.v1.stream_purge_response"
	TypeMsgGet         = "io.nats.jetstream.api.v1.stream_msg_get_response"
	TypeMsgDelete      = "io.nats.jetstream.api.v1.stream_msg_delete_response"
	TypeConsumerCreate = "io.nats.jetstream.api.v1.consumer_create_response"
	TypeConsumerDelete = "io.nats.jetstream.api.v1.consumer_delete_response"
	TypeConsumerInfo   = "io.nats.jetstream.api.v1.consumer_info_response"
	TypeConsumerList   = "io.nats.jetstream.api.v1.consumer_list_response"
	TypeConsumerNames  = "io.nats.jetstream.api.v1.consumer_names_response"
	TypeConsumerPause  = "io.nats.jetstream.api.v1.consumer_pause_response"
	TypeConsumerUnpin  = "io.nats.jetstream.api.v1.consumer_unpin_response"
	TypeConsumerReset  = "io.nats.jetstream.api.v1.consumer_reset_response"
)
