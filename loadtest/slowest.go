package loadtest

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// slowRequest is one of the run's slowest requests, kept so a report can point at the
// exact trace that explains it.
type slowRequest struct {
	Endpoint string        `json:"endpoint"`
	Scenario string        `json:"scenario"`
	Latency  time.Duration `json:"-"`
	// Offset is when the request was meant to start, from the beginning of the run.
	Offset  time.Duration `json:"-"`
	Status  int           `json:"status,omitempty"`
	Outcome string        `json:"outcome"`
	TraceID string        `json:"trace_id,omitempty"`
	Sampled bool          `json:"sampled"`
}

// slowest keeps the n slowest requests of the run: a min-heap on latency, so memory stays
// fixed however long the run is.
type slowest struct {
	n    int
	heap slowHeap
}

func newSlowest(n int) *slowest { return &slowest{n: n} }

// admits says whether a request this slow would be kept, so the caller builds the
// entry (and formats its trace id) only for the few that are.
func (s *slowest) admits(latency time.Duration) bool {
	return s.n > 0 && (len(s.heap) < s.n || latency > s.heap[0].Latency)
}

func (s *slowest) offer(r slowRequest) {
	if !s.admits(r.Latency) {
		return
	}
	if len(s.heap) < s.n {
		heap.Push(&s.heap, r)
		return
	}
	s.heap[0] = r
	heap.Fix(&s.heap, 0)
}

// sorted returns the kept requests, slowest first.
func (s *slowest) sorted() []slowRequest {
	out := slices.Clone(s.heap)
	slices.SortFunc(out, func(a, b slowRequest) int { return cmp.Compare(b.Latency, a.Latency) })
	return out
}

type slowHeap []slowRequest

func (h slowHeap) Len() int           { return len(h) }
func (h slowHeap) Less(i, j int) bool { return h[i].Latency < h[j].Latency }
func (h slowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slowHeap) Push(x any)        { *h = append(*h, x.(slowRequest)) }
func (h *slowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
