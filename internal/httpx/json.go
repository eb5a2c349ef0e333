package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

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
// types, bodies over MaxBodyBytes and text that is not valid UTF-8 or holds NUL, then
// runs T's Validate. Every failure is an *Error naming the field where it can.
func Decode[T any](r *http.Request) (T, error) {
	var v T
	if r.Body == nil {
		return v, BadRequest("empty_body", "a JSON body is required")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return v, decodeError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, BadRequest("malformed_json", "the body must hold exactly one JSON object")
	}
	// encoding/json turns bytes that are not UTF-8 into U+FFFD; such a field, and
	// any with NUL (which PostgreSQL refuses), is refused by name.
	if field, problem := badText(reflect.ValueOf(&v).Elem(), "", !utf8.Valid(raw)); field != "" {
		return v, Invalid(field, problem)
	}
	if val, ok := any(&v).(Validator); ok {
		if err := val.Validate(); err != nil {
			return v, err
		}
	}
	return v, nil
}

// badText finds the first string in v (by JSON field path) with NUL, or with the
// replacement character when the body was not valid UTF-8.
func badText(v reflect.Value, path string, notUTF8 bool) (field, problem string) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if strings.IndexByte(s, 0) >= 0 {
			return path, "must not contain NUL"
		}
		if notUTF8 && strings.ContainsRune(s, utf8.RuneError) {
			return path, "must be valid UTF-8"
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return badText(v.Elem(), path, notUTF8)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if path != "" {
				name = path + "." + name
			}
			if field, problem := badText(v.Field(i), name, notUTF8); field != "" {
				return field, problem
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if field, problem := badText(v.Index(i), path, notUTF8); field != "" {
				return field, problem
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if field, problem := badText(k, path, notUTF8); field != "" {
				return field, problem
			}
			if field, problem := badText(v.MapIndex(k), path, notUTF8); field != "" {
				return field, problem
			}
		}
	}
	return "", ""
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

// WriteEncodedJSON answers with b, already JSON, as WriteJSON would have written
// the value b encodes (with its newline).
func WriteEncodedJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = io.WriteString(w, "\n")
}

// QueryText reads an optional text query parameter of at most maxRunes
// characters, refusing invalid UTF-8 and NUL (no store takes them).
func QueryText(r *http.Request, name string, maxRunes int) (string, error) {
	s := r.URL.Query().Get(name)
	if err := checkText(s, maxRunes); err != "" {
		return "", Invalid(name, err)
	}
	return s, nil
}

// checkText says what is wrong with s as text of at most maxRunes characters,
// or "" when nothing is.
func checkText(s string, maxRunes int) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL"
	case maxRunes > 0 && utf8.RuneCountInString(s) > maxRunes:
		return fmt.Sprintf("must be at most %d characters", maxRunes)
	}
	return ""
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
