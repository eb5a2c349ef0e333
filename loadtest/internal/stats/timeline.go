package stats

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// maxBuckets bounds the timeline's memory: a run longer than planned merges neighbouring
// buckets (doubling their width) instead of growing.
const maxBuckets = 240

// bucket is one slice of the run's time line. Requests and errors are counted when
// they complete; latencies and missed starts when they were due.
type bucket struct {
	requests  int64
	errors    int64
	missed    int64
	maxActive int64
	// latency from intended start, µs; coarser than the run-wide histograms
	// (2 significant digits) because there are many buckets.
	latency *hdrhistogram.Histogram
}

type timeline struct {
	width   time.Duration
	buckets []bucket
}

// bucketWidths are the readable interval lengths a timeline may start with.
var bucketWidths = []time.Duration{
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute,
}

// newTimeline sizes buckets so the planned run fills about half the fixed budget,
// leaving room for the drain and for runs that last longer than planned.
func newTimeline(planned time.Duration) *timeline {
	for _, w := range bucketWidths {
		if planned/w <= maxBuckets/2 {
			return &timeline{width: w}
		}
	}
	width := time.Minute
	for planned/width > maxBuckets/2 {
		width *= 2
	}
	return &timeline{width: width}
}

func newBucketHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatencyMicros, 2)
}

// at returns the bucket for offset off into the run, compacting when off lies beyond
// the budget.
func (t *timeline) at(off time.Duration) *bucket {
	if off < 0 {
		off = 0
	}
	for int(off/t.width) >= maxBuckets {
		t.compact()
	}
	i := int(off / t.width)
	for len(t.buckets) <= i {
		t.buckets = append(t.buckets, bucket{})
	}
	return &t.buckets[i]
}

func (t *timeline) compact() {
	merged := make([]bucket, (len(t.buckets)+1)/2)
	for i, b := range t.buckets {
		m := &merged[i/2]
		m.requests += b.requests
		m.errors += b.errors
		m.missed += b.missed
		m.maxActive = max(m.maxActive, b.maxActive)
		if b.latency != nil {
			if m.latency == nil {
				m.latency = newBucketHistogram()
			}
			m.latency.Merge(b.latency)
		}
	}
	t.buckets = merged
	t.width *= 2
}
