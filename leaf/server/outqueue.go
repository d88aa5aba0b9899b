package server

import "sync"

// outChunkSize is the size of the pooled chunks pending output is kept in.
const outChunkSize = 64 * 1024

var outChunkPool = sync.Pool{New: func() any { return new([outChunkSize]byte) }}

// outQueue is a connection's pending output: a list of fixed-size chunks
// from a pool. Appending never moves bytes already queued (a contiguous
// buffer re-grown by append would copy them again at every doubling), and
// chunks go back to the pool as soon as they are written, so an idle
// connection holds no output memory. Guarded by the owning client's mu.
type outQueue struct {
	chunks [][]byte
	size   int
}

// write appends p, taking new chunks from the pool as needed.
func (q *outQueue) write(p []byte) {
	for len(p) > 0 {
		n := len(q.chunks)
		if n == 0 || len(q.chunks[n-1]) == outChunkSize {
			q.chunks = append(q.chunks, outChunkPool.Get().(*[outChunkSize]byte)[:0])
			n++
		}
		last := q.chunks[n-1]
		k := copy(last[len(last):outChunkSize], p)
		q.chunks[n-1] = last[:len(last)+k]
		p = p[k:]
		q.size += k
	}
}

// take hands the queued chunks to the caller (the write loop) and leaves
// the queue empty, reusing spare for the chunk list.
func (q *outQueue) take(spare [][]byte) [][]byte {
	chunks := q.chunks
	q.chunks = spare[:0]
	q.size = 0
	return chunks
}

// releaseChunk returns a written chunk to the pool.
func releaseChunk(c []byte) {
	if cap(c) == outChunkSize {
		outChunkPool.Put((*[outChunkSize]byte)(c[:outChunkSize]))
	}
}
