package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/otelshop/shop/internal/resilience"
	"github.com/otelshop/shop/telemetry"
)

// Client calls another service's JSON API. The services' typed clients are built on it.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// Authorize, when set, adds the caller's credentials to every request.
	Authorize func(ctx context.Context, h http.Header) error
}

// UpstreamError is a failure of the service called, not of the caller's request: a 5xx
// answer or no answer at all. It is worth retrying an idempotent call on it.
type UpstreamError struct {
	Status int // 0 when no answer came
	Err    error
}

func (e *UpstreamError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("upstream answered %d: %v", e.Status, e.Err)
	}
	return fmt.Sprintf("upstream unreachable: %v", e.Err)
}

func (e *UpstreamError) Unwrap() error { return e.Err }

// Retryable says whether err is worth another try of an idempotent call.
func Retryable(err error) bool {
	var up *UpstreamError
	return errors.As(err, &up) && !errors.Is(err, context.Canceled)
}

// Idempotent is Do for a call that is safe to repeat: it is retried with
// backoff and jitter while the callee fails (resilience.DefaultRetry).
func (c *Client) Idempotent(ctx context.Context, method, template, path string, header http.Header, in, out any) error {
	return resilience.DefaultRetry.Do(ctx, Retryable, func(ctx context.Context) error {
		return c.Do(ctx, method, template, path, header, in, out)
	})
}

// Do sends in (when not nil) as JSON to path and decodes the answer into out (when not
// nil). template names the route for the client span ("/v1/products/{id}"). A 4xx answer
// comes back as the callee's *Error, so a caller can pass it on or act on its code.
func (c *Client) Do(ctx context.Context, method, template, path string, header http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(telemetry.WithURLTemplate(ctx, template), method, c.BaseURL+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.Authorize != nil {
		if err := c.Authorize(ctx, req.Header); err != nil {
			return &UpstreamError{Err: fmt.Errorf("credentials: %w", err)}
		}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() && ctx.Err() == nil {
			err = errors.Join(err, context.DeadlineExceeded)
		}
		return &UpstreamError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var e errorBody
		if derr := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e); derr != nil || e.Error == nil {
			e.Error = &Error{Code: "upstream", Message: http.StatusText(resp.StatusCode)}
		}
		e.Error.Status = resp.StatusCode
		if resp.StatusCode >= 500 {
			// Flattened to text: the callee's failure is not the caller's answer, so it
			// must not be found by errors.As and passed on to the client.
			return &UpstreamError{Status: resp.StatusCode, Err: errors.New(e.Error.Error())}
		}
		return e.Error
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &UpstreamError{Status: resp.StatusCode, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return nil
}
