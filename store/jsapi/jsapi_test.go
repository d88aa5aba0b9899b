package jsapi

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestErrorWithAndIs(t *testing.T) {
	e := ErrStreamWrongLastSequenceF.With("seq", "7")
	if e.Description != "wrong last sequence: 7" || e.ErrCode != 10071 || e.Code != 400 {
		t.Fatalf("With: %+v", e)
	}
	if ErrStreamWrongLastSequenceF.Description != "wrong last sequence: {seq}" {
		t.Fatal("With changed the table entry")
	}
	if !errors.Is(e, ErrStreamWrongLastSequenceF) || errors.Is(e, ErrStreamNotFound) {
		t.Fatal("Is must match on err_code")
	}
	if got := ErrStreamStoreFailedF.WithErr(errors.New("disk full")).Description; got != "disk full" {
		t.Fatalf("WithErr: %q", got)
	}
}

// The JSON names are what clients parse; a few spot checks against the
// bytes nats-server sends.
func TestWireNames(t *testing.T) {
	b, _ := json.Marshal(Response{Type: TypeStreamInfo, Error: ErrStreamNotFound})
	if string(b) != `{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}` {
		t.Fatalf("error response: %s", b)
	}
	b, _ = json.Marshal(PubAck{Stream: "S", Sequence: 3, Duplicate: true})
	if string(b) != `{"stream":"S","seq":3,"duplicate":true}` {
		t.Fatalf("pub ack: %s", b)
	}
	var cc ConsumerConfig
	in := `{"durable_name":"D","deliver_policy":"by_start_sequence","opt_start_seq":5,"ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subjects":["a.>","b"],"replay_policy":"instant","max_ack_pending":1000,"num_replicas":0,"mem_storage":true}`
	if err := json.Unmarshal([]byte(in), &cc); err != nil {
		t.Fatal(err)
	}
	if cc.Durable != "D" || cc.DeliverPolicy != DeliverByStartSeq || cc.OptStartSeq != 5 || cc.AckWait != 30*time.Second ||
		len(cc.FilterSubjects) != 2 || cc.MaxAckPending != 1000 || !cc.MemoryStorage {
		t.Fatalf("consumer config: %+v", cc)
	}
	var sc StreamConfig
	in = `{"name":"KV_b","subjects":["$KV.b.>"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":5,"max_msg_size":-1,"discard":"new","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":true,"mirror_direct":false,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":false}`
	if err := json.Unmarshal([]byte(in), &sc); err != nil {
		t.Fatal(err)
	}
	if sc.MaxMsgsPer != 5 || sc.Discard != DiscardNew || !sc.AllowDirect || !sc.DenyDelete || !sc.AllowRollup || sc.Duplicates != 2*time.Minute {
		t.Fatalf("stream config: %+v", sc)
	}
}

// Every table entry has a status code and a unique err_code.
func TestErrorTable(t *testing.T) {
	seen := map[uint16]bool{}
	for _, e := range []*Error{ErrStreamNotFound, ErrConsumerNotFound, ErrStreamNameExist, ErrStreamSubjectOverlap, ErrNoMessageFound, ErrBadRequest} {
		if e.Code == 0 || e.ErrCode == 0 || e.Description == "" || seen[e.ErrCode] {
			t.Fatalf("bad entry %+v", e)
		}
		seen[e.ErrCode] = true
	}
}
