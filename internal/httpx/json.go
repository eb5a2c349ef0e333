package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

// MaxBodyBytes bounds every request body the shop reads.
const MaxBodyBytes = 1 << 20

// Validator is implemented by request types that check their own fields after decoding.
type Validator interface {
	Validate() error
}

// Decode reads one JSON object into a T, refusing unknown fields, trailing data, wrong
// types and bodies over MaxBodyBytes, then runs T's Validate. Every failure is an *Error
// naming the field where it can.
func Decode[T any](r *http.Request) (T, error) {
	var v T
	if r.Body == nil {
		return v, BadRequest("empty_body", "a JSON body is required")
	}
	body := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, BadRequest("malformed_json", "the body must hold exactly one JSON object")
	}
	if val, ok := any(&v).(Validator); ok {
		if err := val.Validate(); err != nil {
			return v, err
		}
	}
	return v, nil
}

func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &maxErr):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return BadRequest("empty_body", "a JSON body is required")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("malformed_json", "the body is not valid JSON")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return BadRequest("malformed_json", "the body must be a JSON object")
		}
		return Invalid(field, "must be of type "+typeErr.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(field, "unknown field")
	}
	return BadRequest("malformed_json", "the body is not valid JSON")
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is sent; an encoding failure now can only be a gone client.
	_ = json.NewEncoder(w).Encode(v)
}

// QueryInt reads an optional integer query parameter within [min, max].
func QueryInt(r *http.Request, name string, def, min, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, Invalid(name, fmt.Sprintf("must be a whole number from %d to %d", min, max))
	}
	return n, nil
}
