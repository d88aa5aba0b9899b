package jetstream

import (
	"encoding/json"
	"strings"

	"github.com/leafgate/leafgate/store/jsapi"
)

// apiLevel is the JetStream API level leafgate implements (as reported by
// nats-server 2.11).
const apiLevel = 1

// Paging limits, as nats-server's.
const (
	namesLimit = 1024
	listLimit  = 256
)

// apiLoop answers API requests one at a time: configuration changes are
// serialised, and each stream's own work runs on its goroutine.
func (s *Service) apiLoop() {
	defer s.wg.Done()
	var batch []inMsg
	for {
		select {
		case <-s.quit:
			return
		case <-s.api.sig:
		}
		batch = s.api.take(batch)
		for i := range batch {
			s.handleAPI(&batch[i])
		}
	}
}

// apiOp splits "$JS.API.STREAM.INFO.x" or "$JS.<domain>.API.STREAM.INFO.x"
// into its tokens after API.
func (s *Service) apiOp(subj string) []string {
	switch {
	case strings.HasPrefix(subj, "$JS.API."):
		subj = subj[len("$JS.API."):]
	case s.cfg.Domain != "" && strings.HasPrefix(subj, "$JS."+s.cfg.Domain+".API."):
		subj = subj[len("$JS."+s.cfg.Domain+".API."):]
	default:
		return nil
	}
	return strings.Split(subj, ".")
}

func (s *Service) handleAPI(m *inMsg) {
	toks := s.apiOp(m.subject)
	if len(toks) == 0 {
		return
	}
	if len(toks) >= 3 && toks[0] == "DIRECT" && toks[1] == "GET" {
		s.directGet(m, toks[2], strings.Join(toks[3:], "."))
		return
	}
	if len(toks) >= 2 && toks[0] == "CONSUMER" && toks[1] == "RESET" {
		// The consumer's own subscription answers CONSUMER.RESET; this
		// one only makes a request for a consumer that does not exist
		// time out rather than find no responder, as with nats-server.
		return
	}
	defer func() {
		for _, fn := range s.afterReply {
			fn()
		}
		s.afterReply = s.afterReply[:0]
	}()
	s.apiTotal.Add(1)
	resp := s.dispatch(toks, m)
	var hdr []byte
	if h, ok := resp.(headed); ok {
		hdr, resp = h.hdr, h.resp
	}
	b, err := json.Marshal(resp)
	if err != nil {
		s.log.Error("jetstream: encode API response", "err", err)
		return
	}
	// A request without a reply subject is carried out and audited all
	// the same, as by nats-server (`nats pub $JS.API.STREAM.DELETE.X`).
	if m.reply != "" {
		s.publish(m.reply, "", hdr, b)
	}
	s.audit(m, b)
}

// headed is a response sent with a header block (a sourcing consumer's
// create answers with Nats-Stream-Identity).
type headed struct {
	hdr  []byte
	resp any
}

// errResponse is the answer to a failed request.
type errResponse struct {
	jsapi.Response
}

func (s *Service) fail(typ string, e *jsapi.Error) any {
	s.apiErrors.Add(1)
	return errResponse{jsapi.Response{Type: typ, Error: e}}
}

func (s *Service) dispatch(toks []string, m *inMsg) any {
	op := toks[0]
	if len(toks) > 1 {
		op += "." + toks[1]
	}
	// A consumer create checks the level once its body says whether it
	// is a sourcing consumer.
	if op != "CONSUMER.CREATE" && op != "CONSUMER.DURABLE" && levelTooHigh(m.hdr, apiLevel) {
		return s.fail(apiResponseType(op), jsapi.ErrRequiredApiLevel)
	}
	arg := func(i int) string {
		if i < len(toks) {
			return toks[i]
		}
		return ""
	}
	switch {
	case len(toks) == 1 && toks[0] == "INFO":
		return s.accountInfo()
	case op == "STREAM.CREATE" && len(toks) == 3:
		return s.streamCreate(arg(2), m.data)
	case op == "STREAM.UPDATE" && len(toks) == 3:
		return s.streamUpdate(arg(2), m.data)
	case op == "STREAM.DELETE" && len(toks) == 3:
		return s.streamDelete(arg(2))
	case op == "STREAM.INFO" && len(toks) == 3:
		return s.streamInfo(arg(2), m.data)
	case op == "STREAM.LIST" && len(toks) == 2:
		return s.streamList(m.data, false)
	case op == "STREAM.NAMES" && len(toks) == 2:
		return s.streamList(m.data, true)
	case op == "STREAM.PURGE" && len(toks) == 3:
		return s.streamPurge(arg(2), m.data)
	case op == "STREAM.MSG" && len(toks) == 4 && toks[2] == "GET":
		return s.msgGet(arg(3), m.data)
	case op == "STREAM.MSG" && len(toks) == 4 && toks[2] == "DELETE":
		return s.msgDelete(arg(3), m.data)
	case op == "CONSUMER.CREATE" && len(toks) >= 3:
		return s.consumerCreate(arg(2), arg(3), strings.Join(toks[min(4, len(toks)):], "."), len(toks) > 3, m.hdr, m.data, false)
	case op == "CONSUMER.DURABLE" && len(toks) == 5 && toks[2] == "CREATE":
		return s.consumerCreate(arg(3), arg(4), "", true, m.hdr, m.data, true)
	case op == "CONSUMER.INFO" && len(toks) == 4:
		return s.consumerInfo(arg(2), arg(3))
	case op == "CONSUMER.DELETE" && len(toks) == 4:
		return s.consumerDelete(arg(2), arg(3))
	case op == "CONSUMER.PAUSE" && len(toks) == 4:
		return s.consumerPause(arg(2), arg(3), m.data)
	case op == "CONSUMER.UNPIN" && len(toks) == 4:
		return s.consumerUnpin(arg(2), arg(3), m.data)
	case op == "CONSUMER.LIST" && len(toks) == 3:
		return s.consumerList(arg(2), m.data, false)
	case op == "CONSUMER.NAMES" && len(toks) == 3:
		return s.consumerList(arg(2), m.data, true)
	}
	return s.fail("io.nats.jetstream.api.v1.error_response", jsapi.ErrBadRequest)
}

type accountInfoResp struct {
	jsapi.Response
	jsapi.AccountInfo
}

func (s *Service) accountInfo() any {
	mem, file := s.usage()
	streams := s.sortedStreams()
	consumers := 0
	for _, st := range streams {
		st.do(func() { consumers += len(st.publicConsumers()) })
	}
	// The account has no limits of its own: nats-server reports -1 for
	// each, whatever the server-wide store limits (those are in /jsz).
	lim := jsapi.AccountLimits{MaxMemory: -1, MaxStore: -1, MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1, MemoryMaxStreamBytes: -1, StoreMaxStreamBytes: -1}
	return accountInfoResp{
		Response: jsapi.Response{Type: jsapi.TypeAccountInfo},
		AccountInfo: jsapi.AccountInfo{
			Memory: mem, Store: file, Streams: len(streams), Consumers: consumers,
			Limits: lim, Domain: s.cfg.Domain,
			API: jsapi.APIStats{Level: apiLevel, Total: s.apiTotal.Load(), Errors: s.apiErrors.Load()},
		},
	}
}

// decode unmarshals a request body; an empty body leaves v as is.
func decode(data []byte, v any) *jsapi.Error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return jsapi.ErrInvalidJSON.WithErr(err)
	}
	return nil
}
