package jetstream

import (
	"strconv"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/store/jsapi"
)

// requiredLevelHeader is how a client says which API level a request
// needs (nats.go sets it for features newer than the first level).
const requiredLevelHeader = "Nats-Required-Api-Level"

// sourcingLevel is the API level leafgate serves to the requests a stream
// sourcing or mirroring one of its streams makes (nats-server 2.15's
// level 5): consumer creates with sourcing or the flow_control ack policy
// (level 4: durable sourcing, ADR-60) and their expected stream identity
// (level 5: a re-created origin stream is detected), and CONSUMER.RESET.
// Those are implemented whole. The levels in between add stream features
// (counters, atomic and fast batches, async persist) that leafgate
// refuses, so other requests stay at apiLevel.
const sourcingLevel = 5

// levelTooHigh reports whether a request needs an API level above max, as
// nats-server's errorOnRequiredApiLevel decides: a value that is not a
// number counts as too high. Such a request is refused with 412 / 10185
// instead of being served without the feature it relies on; a sourcing
// hub steps down a level on that error.
func levelTooHigh(hdr []byte, max int) bool {
	if len(hdr) == 0 {
		return false
	}
	v := proto.HeaderGet(hdr, requiredLevelHeader)
	if len(v) == 0 {
		return false
	}
	n, err := strconv.Atoi(string(v))
	return err != nil || n > max
}

// apiResponseType is the response type of the API operation op ("STREAM.CREATE").
func apiResponseType(op string) string {
	switch op {
	case "INFO":
		return jsapi.TypeAccountInfo
	case "STREAM.CREATE":
		return jsapi.TypeStreamCreate
	case "STREAM.UPDATE":
		return jsapi.TypeStreamUpdate
	case "STREAM.DELETE":
		return jsapi.TypeStreamDelete
	case "STREAM.INFO":
		return jsapi.TypeStreamInfo
	case "STREAM.LIST":
		return jsapi.TypeStreamList
	case "STREAM.NAMES":
		return jsapi.TypeStreamNames
	case "STREAM.PURGE":
		return jsapi.TypeStreamPurge
	case "CONSUMER.CREATE", "CONSUMER.DURABLE":
		return jsapi.TypeConsumerCreate
	case "CONSUMER.DELETE":
		return jsapi.TypeConsumerDelete
	case "CONSUMER.INFO":
		return jsapi.TypeConsumerInfo
	case "CONSUMER.LIST":
		return jsapi.TypeConsumerList
	case "CONSUMER.NAMES":
		return jsapi.TypeConsumerNames
	case "CONSUMER.PAUSE":
		return jsapi.TypeConsumerPause
	case "CONSUMER.UNPIN":
		return jsapi.TypeConsumerUnpin
	}
	return "io.nats.jetstream.api.v1.error_response"
}
