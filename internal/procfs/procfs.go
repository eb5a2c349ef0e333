// Package procfs reads what the measurements of the shop need from Linux's /proc:
// a process's CPU time and proportional set size, and the processes of the
// machine's stores, found by their command name.
package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// CPUSeconds is the CPU a process has used since it started, user and system
// (fields 14 and 15 of /proc/PID/stat), and with children also that of its
// children it has waited for (16 and 17).
func CPUSeconds(pid int, children bool) (float64, error) {
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
	// fields[0] is field 3 (state), so utime (14) is fields[11].
	last := 13
	if children {
		last = 15
	}
	if len(fields) < last {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	var ticks uint64
	for _, f := range fields[11:last] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return float64(ticks) / clockTicks, nil
}

// PSSKiB is a process's proportional set size: its memory with every shared page
// divided among the processes that share it.
func PSSKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		}
	}
	return 0, fmt.Errorf("/proc/%d/smaps_rollup: no Pss", pid)
}

// StoreProcesses names the processes of each store by their command name, as
// /proc/PID/comm shows it.
var StoreProcesses = map[string][]string{
	"postgres": {"postgres"},
	"redis":    {"redis-server"},
	"rabbitmq": {"beam.smp", "erl_child_setup", "epmd", "inet_gethost"},
}

// SumByStore adds up measure over every running process of each store;
// processes that end while they are read are left out.
func SumByStore[N int | float64](measure func(pid int) (N, error)) map[string]N {
	byComm := map[string]string{}
	for store, comms := range StoreProcesses {
		for _, c := range comms {
			byComm[c] = store
		}
	}
	out := map[string]N{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		store, ok := byComm[strings.TrimSpace(string(comm))]
		if !ok {
			continue
		}
		if v, err := measure(pid); err == nil {
			out[store] += v
		}
	}
	return out
}
