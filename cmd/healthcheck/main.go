// Command healthcheck is the container probe of the shop image: it GETs one
// URL and exits 0 on a 2xx answer, 1 otherwise. The image is distroless
// (no shell, no wget), so compose.yaml's healthchecks run this instead:
//
//	healthcheck: {test: ["CMD", "/usr/local/bin/healthcheck", "http://127.0.0.1:9464/healthz"]}
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: healthcheck URL")
		return fmt.Errorf("want exactly one URL, got %d arguments", len(args))
	}
	// Shorter than compose's probe timeout, so a hung server reads as
	// unhealthy rather than as a killed probe.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return fmt.Errorf("build request for %s: %w", args[0], err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", args[0], err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("get %s: status %s", args[0], resp.Status)
	}
	return nil
}
