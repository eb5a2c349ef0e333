package stats

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// SlowRequest is one of the run's slowest requests, kept so a report can point at the
// exact trace that explains it.
type SlowRequest struct {
	Endpoint string
	Scenario string
	Latency  time.Duration
	// Offset is when the request was meant to start, from the beginning of the run.
	Offset  time.Duration
	Status  int
	Outcome string
	TraceID string
	Sampled bool
}

// slowest keeps the n slowest requests of the run: a min-heap on latency, so memory stays
// fixed however long the run is.
type slowest struct {
	n    int
	heap slowHeap
}

func newSlowest(n int) *slowest { return &slowest{n: n} }

// admits says whether a request this slow would be kept, so the caller builds the
// entry (and formats its trace id) only for the few that are (telemetry=sdk: 86
// allocations per request otherwise, 85).
func (s *slowest) admits(latency time.Duration) bool {
	return s.n > 0 && (len(s.heap) < s.n || latency > s.heap[0].Latency)
}

func (s *slowest) offer(r SlowRequest) {
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
func (s *slowest) sorted() []SlowRequest {
	out := slices.Clone(s.heap)
	slices.SortFunc(out, func(a, b SlowRequest) int { return cmp.Compare(b.Latency, a.Latency) })
	return out
}

type slowHeap []SlowRequest

func (h slowHeap) Len() int           { return len(h) }
func (h slowHeap) Less(i, j int) bool { return h[i].Latency < h[j].Latency }
func (h slowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slowHeap) Push(x any)        { *h = append(*h, x.(SlowRequest)) }
func (h *slowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
