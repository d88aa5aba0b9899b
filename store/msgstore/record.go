package msgstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A stored message record (the bbolt value; the key is the sequence as 8
// big-endian bytes, so keys sort in sequence order):
//
//	time     8 bytes, unix nanoseconds, big endian
//	subjLen  2 bytes
//	subject  subjLen bytes
//	hdrLen   4 bytes
//	header   hdrLen bytes
//	data     the rest
const recordFixed = 8 + 2 + 4

var errCorrupt = errors.New("msgstore: corrupt record")

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func appendRecord(dst []byte, m *Msg) ([]byte, error) {
	if len(m.Subject) > 0xffff {
		return nil, fmt.Errorf("msgstore: subject of %d bytes too long", len(m.Subject))
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Time))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Subject)))
	dst = append(dst, m.Subject...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Header)))
	dst = append(dst, m.Header...)
	return append(dst, m.Data...), nil
}

// recordSubject reads only the time and subject of a record, for scans.
// The subject aliases rec.
func recordSubject(rec []byte) (ts int64, subj []byte, err error) {
	if len(rec) < recordFixed {
		return 0, nil, errCorrupt
	}
	n := int(binary.BigEndian.Uint16(rec[8:10]))
	if len(rec) < recordFixed+n {
		return 0, nil, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(rec[:8])), rec[10 : 10+n], nil
}

// decodeRecord copies a record into a Msg (bbolt values are only valid
// inside their transaction).
func decodeRecord(seq uint64, rec []byte) (Msg, error) {
	ts, subj, err := recordSubject(rec)
	if err != nil {
		return Msg{}, fmt.Errorf("seq %d: %w", seq, err)
	}
	rest := rec[10+len(subj):]
	h := int(binary.BigEndian.Uint32(rest[:4]))
	rest = rest[4:]
	if h < 0 || h > len(rest) {
		return Msg{}, fmt.Errorf("seq %d: %w", seq, errCorrupt)
	}
	m := Msg{Seq: seq, Subject: string(subj), Time: ts}
	// One copy for header and payload: the record's memory belongs to
	// bbolt and is only valid inside the transaction.
	buf := append(make([]byte, 0, len(rest)), rest...)
	if h > 0 {
		m.Header = buf[:h:h]
	}
	m.Data = buf[h:]
	return m, nil
}
