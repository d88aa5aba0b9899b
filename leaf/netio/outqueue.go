package netio

import "sync"

// OutChunkSize is the size of the pooled chunks pending output is kept in.
const OutChunkSize = 64 * 1024

var outChunkPool = sync.Pool{New: func() any { return new([OutChunkSize]byte) }}

// OutQueue is a connection's pending output: a list of fixed-size chunks
// from a pool. Appending never moves bytes already queued (a contiguous
// buffer re-grown by append would copy them again at every doubling), and
// chunks go back to the pool as soon as they are written, so an idle
// connection holds no output memory. The owner guards it (a NATS client's
// or a leafnode session's mutex).
type OutQueue struct {
	chunks [][]byte
	size   int
}

// Write appends p, taking new chunks from the pool as needed.
func (q *OutQueue) Write(p []byte) {
	for len(p) > 0 {
		n := len(q.chunks)
		if n == 0 || len(q.chunks[n-1]) == OutChunkSize {
			q.chunks = append(q.chunks, outChunkPool.Get().(*[OutChunkSize]byte)[:0])
			n++
		}
		last := q.chunks[n-1]
		k := copy(last[len(last):OutChunkSize], p)
		q.chunks[n-1] = last[:len(last)+k]
		p = p[k:]
		q.size += k
	}
}

// Take hands the queued chunks to the caller (the write loop) and leaves
// the queue empty, reusing spare for the chunk list.
func (q *OutQueue) Take(spare [][]byte) [][]byte {
	chunks := q.chunks
	q.chunks = spare[:0]
	q.size = 0
	return chunks
}

// Size is the number of bytes queued.
func (q *OutQueue) Size() int { return q.size }

// ReleaseChunk returns a written chunk to the pool.
func ReleaseChunk(c []byte) {
	if cap(c) == OutChunkSize {
		outChunkPool.Put((*[OutChunkSize]byte)(c[:OutChunkSize]))
	}
}
