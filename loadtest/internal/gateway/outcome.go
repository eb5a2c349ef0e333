package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
)

// Request outcomes. Only OutcomeOK counts as success; the others are the error kinds a
// report breaks failures down by. They are also metric attribute values, so the set is
// closed.
const (
	OutcomeOK          = "ok"
	OutcomeUnexpected  = "unexpected_status" // a 1xx-3xx the step did not expect
	OutcomeHTTP4xx     = "http_4xx"
	OutcomeHTTP5xx     = "http_5xx"
	OutcomeRefused     = "connection_refused"
	OutcomeTimeout     = "timeout"
	OutcomeNetwork     = "network_error" // reset, EOF, DNS, …
	OutcomeBadResponse = "bad_response"  // a success status with a body that breaks the contract
)

// Outcomes lists every outcome kind.
var Outcomes = []string{OutcomeOK, OutcomeUnexpected, OutcomeHTTP4xx, OutcomeHTTP5xx, OutcomeRefused, OutcomeTimeout, OutcomeNetwork, OutcomeBadResponse}

// Error is a call that did not succeed: a shopper who hits an error page leaves.
type Error struct {
	Endpoint Endpoint
	Outcome  string
	Status   int
	Err      error // the transport's error, or the contract check's
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Endpoint, e.Outcome, e.Err)
	case e.Status != 0:
		return fmt.Sprintf("%s: %s (status %d)", e.Endpoint, e.Outcome, e.Status)
	default:
		return fmt.Sprintf("%s: %s", e.Endpoint, e.Outcome)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Check classifies a response to the call and runs the call's contract check on a
// success. The error is nil exactly when the outcome is OutcomeOK.
func (c *Call) Check(res Response) (outcome string, err error) {
	outcome = classify(res, c.Accept)
	var decodeErr error
	if outcome == OutcomeOK && c.Decode != nil {
		if decodeErr = c.Decode(res.Status, res.Body); decodeErr != nil {
			outcome = OutcomeBadResponse
		}
	}
	if outcome == OutcomeOK {
		return outcome, nil
	}
	if res.Err != nil {
		decodeErr = res.Err
	}
	return outcome, &Error{Endpoint: c.Endpoint, Outcome: outcome, Status: res.Status, Err: decodeErr}
}

// classify turns a response into one of the outcome kinds.
func classify(res Response, accept []int) string {
	if res.Err != nil {
		return classifyError(res.Err)
	}
	if accept == nil {
		if res.Status == http.StatusOK {
			return OutcomeOK
		}
	} else {
		for _, s := range accept {
			if res.Status == s {
				return OutcomeOK
			}
		}
	}
	switch {
	case res.Status >= 500:
		return OutcomeHTTP5xx
	case res.Status >= 400:
		return OutcomeHTTP4xx
	default:
		return OutcomeUnexpected
	}
}

func classifyError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return OutcomeRefused
	case errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout
	default:
		return OutcomeNetwork
	}
}
