package scaleout

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otelshop/shop/internal/service"
)

// replica is one process of a service: `shop <service>` on ports the kernel picks
// (":0"), found in its "listening" log line, behind its service's balancer once it
// answers its readiness check. Kill stops it with SIGKILL, as an OOM kill or a lost
// node does; Start runs it again.
type replica struct {
	def    service.Definition
	index  int
	bin    string
	env    []string
	dir    string
	log    *logFile
	lb     *balancer
	onLine func(r *replica, line map[string]any) // sees every JSON log line

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	ready  bool
	starts int
}

// logFile collects the output of every run of a replica, in order.
type logFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

func (r *replica) name() string { return fmt.Sprintf("%s-%d", r.def.Name, r.index) }

// Start runs the process and waits until it serves and is ready; then the balancer
// sends it connections. A process that exits before it is ready is started again
// after a growing pause, up to a dozen times (half a minute), as a restart policy would (the machine's
// stores are shared with other tests, and a full server refuses a connection now
// and then).
func (r *replica) Start(ctx context.Context) error {
	var err error
	for attempt := range 12 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(time.Duration(attempt)*500*time.Millisecond, 3*time.Second)):
			}
		}
		if err = r.startOnce(ctx); err == nil || !errors.Is(err, errExited) {
			return err
		}
	}
	return err
}

// errExited: the process ended before it was ready.
var errExited = errors.New("exited before it was ready")

func (r *replica) startOnce(ctx context.Context) error {
	r.mu.Lock()
	r.starts++
	cmd := exec.Command(r.bin, r.def.Name)
	cmd.Dir = r.dir
	cmd.Env = append(append(os.Environ(), r.env...),
		r.def.AddrEnv()+"=127.0.0.1:0", "ADMIN_ADDR=127.0.0.1:0",
		fmt.Sprintf("OTEL_RESOURCE_ATTRIBUTES=service.instance.id=%s", r.name()))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.mu.Unlock()
		return err
	}
	cmd.Stderr = r.log
	fmt.Fprintf(r.log, "=== start %d of %s at %s\n", r.starts, r.name(), time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("start %s: %w", r.name(), err)
	}
	r.cmd, r.exited, r.ready = cmd, make(chan struct{}), false
	exited := r.exited
	r.mu.Unlock()

	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			r.log.Write(append(line, '\n'))
			var fields map[string]any
			if json.Unmarshal(line, &fields) != nil {
				continue
			}
			if fields["msg"] == "listening" && fields["server"] == r.def.Name {
				if addr, ok := fields["addr"].(string); ok {
					select {
					case listening <- addr:
					default:
					}
				}
			}
			if r.onLine != nil {
				r.onLine(r, fields)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(exited)
	}()

	deadline := time.After(90 * time.Second)
	var addr string
	select {
	case addr = <-listening:
	case <-exited:
		return fmt.Errorf("%s %w: it did not listen (see %s)", r.name(), errExited, r.log.f.Name())
	case <-deadline:
		return fmt.Errorf("%s did not listen within 90s (see %s)", r.name(), r.log.f.Name())
	case <-ctx.Done():
		return ctx.Err()
	}
	for !r.def.Ready(ctx, addr) {
		select {
		case <-exited:
			return fmt.Errorf("%s %w (see %s)", r.name(), errExited, r.log.f.Name())
		case <-deadline:
			return fmt.Errorf("%s not ready within 90s (see %s)", r.name(), r.log.f.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.mu.Lock()
	r.ready = true
	r.mu.Unlock()
	r.lb.set(r.index, addr)
	return nil
}

// Ready says whether the replica is up and behind its balancer.
func (r *replica) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready
}

// detach marks the replica not ready and takes it out of its balancer; it returns
// its process (nil when none runs) and the channel closed when that exits.
func (r *replica) detach() (*exec.Cmd, chan struct{}) {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.ready = false
	r.mu.Unlock()
	if cmd != nil {
		r.lb.set(r.index, "")
	}
	return cmd, exited
}

// Kill sends SIGKILL and waits for the process to be gone; the balancer stops
// sending it connections.
func (r *replica) Kill() {
	cmd, exited := r.detach()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	fmt.Fprintf(r.log, "=== killed %s at %s\n", r.name(), time.Now().Format(time.RFC3339Nano))
}

// Stop ends the process gracefully (SIGTERM), as at the end of the test.
func (r *replica) Stop() {
	cmd, exited := r.detach()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

// tail returns the last lines of the replica's log, for a failure message.
func (r *replica) tail(lines int) string {
	b, err := os.ReadFile(r.log.f.Name())
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
