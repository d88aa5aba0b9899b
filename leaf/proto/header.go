package proto

import (
	"bytes"
	"iter"
)

// HeaderLines yields each "Key: value" line of a NATS header block, after
// the status line and up to the blank line that ends the block, without
// its CRLF. It does not allocate.
func HeaderLines(hdr []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		i := bytes.Index(hdr, []byte("\r\n"))
		if i < 0 {
			return
		}
		for rest := hdr[i+2:]; len(rest) > 0; {
			j := bytes.Index(rest, []byte("\r\n"))
			var line []byte
			if j < 0 {
				line, rest = rest, nil
			} else {
				line, rest = rest[:j], rest[j+2:]
			}
			if len(line) == 0 || !yield(line) {
				return
			}
		}
	}
}

// HeaderGet returns the value of the first header named key in a NATS
// header block ("NATS/1.0[ status]\r\nKey: value\r\n...\r\n\r\n"), or nil.
// Keys compare case-sensitively, as nats-server's own lookups do; the value
// is trimmed of surrounding spaces. It does not allocate.
func HeaderGet(hdr []byte, key string) []byte {
	for line := range HeaderLines(hdr) {
		if len(line) > len(key) && line[len(key)] == ':' && string(line[:len(key)]) == key {
			return bytes.TrimSpace(line[len(key)+1:])
		}
	}
	return nil
}

// HeaderStatus returns the status code of a header block's first line
// ("NATS/1.0 503" → "503"), or nil when there is none.
func HeaderStatus(hdr []byte) []byte {
	i := bytes.Index(hdr, []byte("\r\n"))
	if i < 0 {
		return nil
	}
	line := bytes.TrimPrefix(hdr[:i], []byte("NATS/1.0"))
	line = bytes.TrimSpace(line)
	if len(line) < 3 {
		return nil
	}
	return line[:3]
}
