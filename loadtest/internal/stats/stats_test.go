package stats

import (
	"testing"
	"time"
)

// A run far longer than planned keeps a fixed number of buckets and loses no counts.
func TestTimeline_LongRun_StaysBounded(t *testing.T) {
	tl := newTimeline(10 * time.Second)
	var total int64
	for s := 0; s < 4*3600; s++ {
		b := tl.at(time.Duration(s) * time.Second)
		b.requests++
		if b.latency == nil {
			b.latency = newBucketHistogram()
		}
		_ = b.latency.RecordValue(1000)
		total++
	}
	if len(tl.buckets) > maxBuckets {
		t.Fatalf("%d buckets, budget %d", len(tl.buckets), maxBuckets)
	}
	var sum, hist int64
	for _, b := range tl.buckets {
		sum += b.requests
		if b.latency != nil {
			hist += b.latency.TotalCount()
		}
	}
	if sum != total || hist != total {
		t.Errorf("counted %d requests, %d latencies, want %d", sum, hist, total)
	}
	if tl.width < time.Minute {
		t.Errorf("bucket width %s after a 4h run", tl.width)
	}
}

func TestSlowest_KeepsTheTopN(t *testing.T) {
	s := newSlowest(3)
	for _, ms := range []int{5, 1, 9, 3, 7, 2, 8} {
		s.offer(SlowRequest{Latency: time.Duration(ms) * time.Millisecond})
	}
	got := s.sorted()
	if len(got) != 3 || got[0].Latency != 9*time.Millisecond || got[1].Latency != 8*time.Millisecond || got[2].Latency != 7*time.Millisecond {
		t.Errorf("kept %v", got)
	}
}
