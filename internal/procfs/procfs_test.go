package procfs

import (
	"os"
	"testing"
	"time"
)

// This process's own figures: CPU that grows while it works, a set size, and
// children's CPU counted only when asked for.
func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := CPUSeconds(pid, false)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 150*time.Millisecond; {
	}
	after, err := CPUSeconds(pid, false)
	if err != nil || after <= before {
		t.Errorf("CPU %.2f s then %.2f s after 150 ms of work (%v); want it to grow", before, after, err)
	}
	if with, err := CPUSeconds(pid, true); err != nil || with < after {
		t.Errorf("with children %.2f s (%v), want at least %.2f s", with, err, after)
	}
	if kib, err := PSSKiB(pid); err != nil || kib <= 0 {
		t.Errorf("PSS %d KiB (%v), want some", kib, err)
	}
	if _, err := CPUSeconds(-1, false); err == nil {
		t.Error("CPU of pid -1: no error")
	}
}
