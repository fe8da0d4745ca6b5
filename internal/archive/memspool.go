package archive

import (
	"cmp"
	"slices"
	"sync"
)

// A download whose Content-Length is at most memSpoolMax is held in memory
// instead of a spool file: creating, writing, unlinking and closing a file
// cost a small recording more than its download and hash (os.CreateTemp
// alone was a fifth of the bench process's CPU for 200 KB recordings).
// memSpoolBudget bounds the memory every worker of a Mirror holds at once,
// lent or kept for reuse; a download that does not fit goes to disk as
// before, so memory stays bounded whatever the concurrency.
const (
	memSpoolMax    = 4 << 20
	memSpoolBudget = 16 << 20
	memSpoolRound  = 64 << 10 // buffers are whole multiples, to be reused across sizes
)

// memSpool lends buffers for small downloads and keeps returned ones for
// the next, within a budget of bytes. It is safe for concurrent use.
type memSpool struct {
	max int64

	mu   sync.Mutex
	left int64    // budget not held by any buffer, lent or free
	free [][]byte // returned buffers, by ascending capacity
}

func newMemSpool(maxBytes, budget int64) *memSpool {
	return &memSpool{max: maxBytes, left: budget}
}

// get lends a buffer of length n, or returns false when n is unknown (< 0),
// zero, above the per-download maximum or beyond what the budget has left.
func (s *memSpool) get(n int64) ([]byte, bool) {
	if n <= 0 || n > s.max {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, _ := slices.BinarySearchFunc(s.free, n, byCap); i < len(s.free) {
		b := s.free[i]
		s.free = slices.Delete(s.free, i, i+1)
		return b[:n], true
	}
	size := (n + memSpoolRound - 1) / memSpoolRound * memSpoolRound
	// Free buffers too small for n give their budget back, largest first.
	for s.left < size && len(s.free) > 0 {
		last := len(s.free) - 1
		s.left += int64(cap(s.free[last]))
		s.free = s.free[:last]
	}
	if s.left < size {
		return nil, false
	}
	s.left -= size
	return make([]byte, n, size), true
}

// put takes back a buffer lent by get.
func (s *memSpool) put(b []byte) {
	if b == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.free, int64(cap(b)), byCap)
	s.free = slices.Insert(s.free, i, b[:0])
}

// byCap orders buffers by capacity, for binary search.
func byCap(b []byte, n int64) int { return cmp.Compare(int64(cap(b)), n) }
