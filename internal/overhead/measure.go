package overhead

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
