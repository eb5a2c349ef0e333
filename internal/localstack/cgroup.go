package localstack

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A memory cgroup holds one process of the stack under a limit, the way a
// container's memory limit holds it (compose's deploy.resources.limits.memory is
// a cgroup limit too), and reports afterwards how close it came. cgroup v1
// (memory.limit_in_bytes) and v2 (memory.max) are both understood; either needs
// write access to the process's own cgroup, which root usually has on a VM and
// rarely has in a container.
type memoryCgroup struct {
	dir string
	v2  bool
}

// MemoryUsage is what a process's cgroup saw, in bytes and counts.
type MemoryUsage struct {
	Limit int64
	// Peak is the highest usage: anonymous memory plus the page cache charged
	// to the process (its binary's pages it faulted in, files it wrote), as the
	// kernel accounts it against the limit.
	Peak int64
	// LimitHits counts the times usage reached the limit and the kernel had to
	// reclaim or fail an allocation (v1 memory.failcnt, v2 memory.events max).
	LimitHits int64
	// OOMKills counts processes the kernel killed for want of memory.
	OOMKills int64
}

// MemoryLimitsSupported says whether processes can be run under a memory limit
// here, and if not, why.
func MemoryLimitsSupported() error {
	cg, err := newMemoryCgroup("probe")
	if err != nil {
		return err
	}
	defer cg.remove()
	return cg.setLimit(64 << 20)
}

// ownMemoryCgroup finds the directory of this process's memory cgroup.
func ownMemoryCgroup() (dir string, v2 bool, err error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	var v1Path, v2Path string
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2Path = parts[2]
		case controllerListed(parts[1], "memory"):
			v1Path = parts[2]
		}
	}
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	defer mounts.Close()
	var v1Mount, v1Root, v2Mount, v2Root string
	sc := bufio.NewScanner(mounts)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+3 >= len(fields) {
			continue
		}
		root, mountPoint, fstype, super := fields[3], fields[4], fields[sep+1], fields[sep+3]
		switch {
		case fstype == "cgroup" && controllerListed(super, "memory"):
			v1Mount, v1Root = mountPoint, root
		case fstype == "cgroup2":
			v2Mount, v2Root = mountPoint, root
		}
	}
	if v1Path != "" && v1Mount != "" {
		return filepath.Join(v1Mount, relativeTo(v1Path, v1Root)), false, nil
	}
	if v2Path != "" && v2Mount != "" {
		return filepath.Join(v2Mount, relativeTo(v2Path, v2Root)), true, nil
	}
	return "", false, errors.New("no memory cgroup is mounted for this process")
}

func controllerListed(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// relativeTo strips the mount's root from a cgroup path, as a cgroup namespace
// shows it.
func relativeTo(path, root string) string {
	if root == "/" {
		return path
	}
	return strings.TrimPrefix(path, root)
}

// newMemoryCgroup makes a child of this process's memory cgroup.
func newMemoryCgroup(name string) (*memoryCgroup, error) {
	parent, v2, err := ownMemoryCgroup()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, fmt.Sprintf("localstack-%s-%d", name, os.Getpid()))
	_ = os.Remove(dir) // left by an earlier run of this pid; fails harmlessly when busy
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create memory cgroup under %s (needs write access, usually root): %w", parent, err)
	}
	cg := &memoryCgroup{dir: dir, v2: v2}
	if v2 {
		if _, err := os.Stat(filepath.Join(dir, "memory.max")); err != nil {
			cg.remove()
			return nil, fmt.Errorf("cgroup v2 at %s has no memory controller for its children (subtree_control): %w", parent, err)
		}
	}
	return cg, nil
}

func (c *memoryCgroup) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", file, err)
	}
	return nil
}

func (c *memoryCgroup) setLimit(bytes int64) error {
	limit := strconv.FormatInt(bytes, 10)
	if c.v2 {
		if err := c.write("memory.max", limit); err != nil {
			return err
		}
		// Without swap the limit is the memory limit; where swap exists it must
		// not stretch it (Docker's default memory-swap equals the limit).
		if _, err := os.Stat(filepath.Join(c.dir, "memory.swap.max")); err == nil {
			return c.write("memory.swap.max", "0")
		}
		return nil
	}
	// memsw is left alone: with it set to the same limit, v1 stops counting
	// failcnt (seen on the build machines), and they have no swap to stretch it.
	return c.write("memory.limit_in_bytes", limit)
}

// procsFile is where a process writes its pid to join the cgroup.
func (c *memoryCgroup) procsFile() string { return filepath.Join(c.dir, "cgroup.procs") }

// usage reads what the cgroup saw so far.
func (c *memoryCgroup) usage() (MemoryUsage, error) {
	var u MemoryUsage
	var err error
	if c.v2 {
		if u.Limit, err = c.readInt("memory.max"); err != nil {
			return u, err
		}
		if u.Peak, err = c.readInt("memory.peak"); err != nil {
			return u, err
		}
		events, err := c.readKeyed("memory.events")
		if err != nil {
			return u, err
		}
		u.LimitHits, u.OOMKills = events["max"], events["oom_kill"]
		return u, nil
	}
	if u.Limit, err = c.readInt("memory.limit_in_bytes"); err != nil {
		return u, err
	}
	if u.Peak, err = c.readInt("memory.max_usage_in_bytes"); err != nil {
		return u, err
	}
	if u.LimitHits, err = c.readInt("memory.failcnt"); err != nil {
		return u, err
	}

	oom, err := c.readKeyed("memory.oom_control")
	if err != nil {
		return u, err
	}
	u.OOMKills = oom["oom_kill"]
	return u, nil
}

func (c *memoryCgroup) readInt(file string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// readKeyed reads a file of "key value" lines.
func (c *memoryCgroup) readKeyed(file string) (map[string]int64, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// remove deletes the cgroup; it must be empty (its process gone).
func (c *memoryCgroup) remove() { _ = os.Remove(c.dir) }

// evictFromPageCache drops a file's clean pages from the page cache, so the
// next process to read it is charged for them (it fails harmlessly for pages
// another process has mapped).
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	return nil
}
