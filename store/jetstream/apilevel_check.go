package jetstream

import (
	"strconv"

	"github.com/leafgate/leafgate/leaf/proto"
	"github.com/leafgate/leafgate/store/jsapi"
)

// requiredLevelHeader is how a client says which API level a request
// needs (nats.go sets it for features newer than the first level).
const requiredLevelHeader = "Nats-Required-Api-Level"

// levelTooHigh reports whether a request needs an API level leafgate does
// not implement, as nats-server's errorOnRequiredApiLevel decides: a value
// that is not a number counts as too high. Such a request is refused with
// 412 / 10185 instead of being served without the feature it relies on.
func levelTooHigh(hdr []byte) bool {
	if len(hdr) == 0 {
		return false
	}
	v := proto.HeaderGet(hdr, requiredLevelHeader)
	if len(v) == 0 {
		return false
	}
	n, err := strconv.Atoi(string(v))
	return err != nil || n > apiLevel
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
