package localstack

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// allocEnv makes the test binary, run as a stack's process, allocate and touch
// that many MiB, then wait to be stopped.
const allocEnv = "LOCALSTACK_TEST_ALLOC_MIB"

func TestMain(m *testing.M) {
	if v := os.Getenv(allocEnv); v != "" {
		allocateAndWait(v)
		return
	}
	os.Exit(m.Run())
}

var sink [][]byte

func allocateAndWait(mib string) {
	n, _ := strconv.Atoi(mib)
	for range n {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1 // touched, so resident
		}
		sink = append(sink, b)
	}
	os.Stdout.WriteString("allocated\n")
	time.Sleep(time.Hour)
}

// newTestStack is a stack without backends, for running processes of a test's own.
func newTestStack(t *testing.T) *Stack {
	t.Helper()
	s := &Stack{DataDir: t.TempDir(), cfg: Config{Log: testLog{t}, ReadyTimeout: 10 * time.Second}, exited: make(chan *process, 4)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// A process under its limit reports a peak near what it allocated and no limit
// hit; one allocating past its limit is killed and the kill is reported.
func TestMemoryLimit_PeakReportedAndOverrunKilled(t *testing.T) {
	if err := MemoryLimitsSupported(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("memory limits must work on the CI machines: %v", err)
		}
		t.Skipf("memory cgroups are not writable here: %v", err)
	}
	s := newTestStack(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	if _, err := s.Run(ctx, Process{Name: "fits", Path: self, Env: []string{allocEnv + "=40"}, MemoryLimit: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	var fits MemoryUsage
	waitFor(t, func() bool {
		fits, err = s.MemoryUsage("fits")
		return err == nil && fits.Peak >= 40<<20
	})
	if fits.Limit != 256<<20 || fits.LimitHits != 0 || fits.OOMKills != 0 {
		t.Errorf("40 MiB under a 256 MiB limit: %+v, want the limit, no hits, no kills", fits)
	}

	if _, err := s.Run(ctx, Process{Name: "overruns", Path: self, Env: []string{allocEnv + "=200"}, MemoryLimit: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	var over MemoryUsage
	waitFor(t, func() bool {
		over, err = s.MemoryUsage("overruns")
		return err == nil && over.OOMKills > 0
	})
	if over.LimitHits == 0 || over.Peak > 64<<20+64<<10 {
		t.Errorf("200 MiB under a 64 MiB limit: %+v, want limit hits and a peak at the limit", over)
	}
	if _, err := s.MemoryUsage("nolimit"); err == nil {
		t.Error("MemoryUsage of an unknown process did not fail")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
