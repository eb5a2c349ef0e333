package overhead

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the collector's OTLP exporter compresses by default
)

// sink is a discarding telemetry endpoint: OTLP over gRPC (any service, any
// method) and over HTTP (any path), and Pyroscope's /ingest, each answered with
// success and an empty body, without decoding what it was sent. It counts the
// bytes it received by signal, so a run can say how much each request exported.
type sink struct {
	GRPCAddr string // host:port
	HTTPURL  string // http://host:port

	grpc *grpc.Server
	http *http.Server

	mu    sync.Mutex
	bytes map[string]int64
}

func startSink() (*sink, error) {
	s := &sink{bytes: map[string]int64{}}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		return nil, err
	}
	s.GRPCAddr, s.HTTPURL = gl.Addr().String(), "http://"+hl.Addr().String()
	s.grpc = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(s.export))
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.grpc.Serve(gl) }()
	go func() { _ = s.http.Serve(hl) }()
	return s, nil
}

// export answers one unary OTLP Export call with an empty (successful) response.
func (s *sink) export(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	var f frame
	if err := stream.RecvMsg(&f); err != nil {
		return err
	}
	s.add(signalOf(method), int64(f.n))
	return stream.SendMsg(&frame{})
}

func (s *sink) serveHTTP(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	s.add(signalOf(r.URL.Path), n)
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	w.WriteHeader(http.StatusOK)
}

func (s *sink) add(signal string, n int64) {
	s.mu.Lock()
	s.bytes[signal] += n
	s.mu.Unlock()
}

// received returns the bytes received so far, by signal.
func (s *sink) received() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.bytes))
	for k, v := range s.bytes {
		out[k] = v
	}
	return out
}

func (s *sink) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	s.grpc.Stop()
}

// signalOf names the signal of an OTLP gRPC method or HTTP path, or of
// Pyroscope's ingest.
func signalOf(method string) string {
	switch m := strings.ToLower(method); {
	case strings.Contains(m, "trace"):
		return "traces"
	case strings.Contains(m, "metric"):
		return "metrics"
	case strings.Contains(m, "log"):
		return "logs"
	case strings.Contains(m, "ingest"):
		return "profiles"
	}
	return "other"
}

// frame is a message the sink does not decode: only its size is kept, and the
// response, an empty message, is zero bytes (a valid empty protobuf).
type frame struct{ n int }

type rawCodec struct{}

func (rawCodec) Marshal(any) ([]byte, error) { return nil, nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	v.(*frame).n = len(data)
	return nil
}
func (rawCodec) Name() string { return "proto" }
