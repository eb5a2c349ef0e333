package httpx_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/otelshop/shop/internal/httpx"
)

func TestMiddleware_Panic_Answers500AndKeepsServing(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(httpx.Middleware(logger, mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error httpx.Error }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 500 || body.Error.Code != "internal" || strings.Contains(body.Error.Message, "kaboom") {
		t.Errorf("panic answered %d %+v; want 500 internal without the panic's text", resp.StatusCode, body.Error)
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), "stack") {
		t.Errorf("the panic was not logged with its stack: %s", logs.String())
	}
	resp, err = http.Get(srv.URL + "/ok")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("the server did not keep serving after a panic: %v %v", resp, err)
	}
}

type item struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
}

func (i *item) Validate() error {
	if i.Quantity < 1 {
		return httpx.Invalid("quantity", "must be positive")
	}
	return nil
}

func TestDecode(t *testing.T) {
	tests := []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"name":"a","quantity":1}`, 0, "", ""},
		{``, 400, "empty_body", ""},
		{`{"name":`, 400, "malformed_json", ""},
		{`{"name":"a","quantity":1} {"x":1}`, 400, "malformed_json", ""},
		{`"text"`, 400, "malformed_json", ""},
		{`{"name":"a","quantity":"1"}`, 400, "invalid_field", "quantity"},
		{`{"name":"a","quantity":1,"extra":true}`, 400, "invalid_field", "extra"},
		{`{"name":"a","quantity":0}`, 400, "invalid_field", "quantity"},
		{`{"name":"` + strings.Repeat("x", httpx.MaxBodyBytes) + `","quantity":1}`, 413, "body_too_large", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		_, err := httpx.Decode[item](r)
		if tt.status == 0 {
			if err != nil {
				t.Errorf("%.40s: %v", tt.body, err)
			}
			continue
		}
		e, ok := err.(*httpx.Error)
		if !ok || e.Status != tt.status || e.Code != tt.code || e.Field != tt.field {
			t.Errorf("%.40s: %#v; want %d %s %s", tt.body, err, tt.status, tt.code, tt.field)
		}
	}
}

func TestWriteError_InternalDetailsStayInside(t *testing.T) {
	w := httptest.NewRecorder()
	httpx.WriteError(w, httptest.NewRequest("GET", "/", nil), errSecret{})
	if w.Code != 500 || strings.Contains(w.Body.String(), "password=hunter2") {
		t.Errorf("internal error answered %d %s", w.Code, w.Body.String())
	}
}

type errSecret struct{}

func (errSecret) Error() string { return "pq: connection password=hunter2 refused" }
