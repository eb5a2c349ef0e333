package overhead

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds is the CPU a process has used since it started, user and system,
// from fields 14 and 15 of /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count
	// fields from after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state), so utime (14) and stime (15) are 11 and 12.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat utime: %w", pid, err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat stime: %w", pid, err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// memStats are a Go process's cumulative allocation counters.
type memStats struct {
	Mallocs float64 // go_memstats_mallocs_total
	Bytes   float64 // go_memstats_alloc_bytes_total
}

// readMemStats reads the allocation counters client_golang's Go collector puts on
// a shop process's admin /metrics. Reading them allocates a little in the
// process, the same in every variant.
func readMemStats(ctx context.Context, client *http.Client, adminAddr string) (memStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	if err != nil {
		return memStats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return memStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return memStats{}, fmt.Errorf("%s/metrics: %s", adminAddr, resp.Status)
	}
	var m memStats
	var found int
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "go_memstats_mallocs_total":
			dst = &m.Mallocs
		case "go_memstats_alloc_bytes_total":
			dst = &m.Bytes
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return memStats{}, fmt.Errorf("%s/metrics %s: %w", adminAddr, name, err)
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return memStats{}, err
	}
	if found != 2 {
		return memStats{}, fmt.Errorf("%s/metrics: no go_memstats_mallocs_total or go_memstats_alloc_bytes_total", adminAddr)
	}
	return m, nil
}
