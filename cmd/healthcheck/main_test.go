package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRun_ExitStatusFollowsTheAnswer(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"healthy", http.StatusOK, false},
		{"no content is healthy too", http.StatusNoContent, false},
		{"unavailable", http.StatusServiceUnavailable, true},
		{"not found", http.StatusNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			err := run(context.Background(), []string{srv.URL + "/healthz"}, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Errorf("run() error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestRun_NothingListening_Fails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if err := run(context.Background(), []string{url}, io.Discard); err == nil {
		t.Error("run() succeeded against a closed port")
	}
}

func TestRun_WantsOneURL(t *testing.T) {
	if err := run(context.Background(), nil, io.Discard); err == nil {
		t.Error("run() succeeded without a URL")
	}
}
