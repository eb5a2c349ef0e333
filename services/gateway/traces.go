package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/telemetry"
)

// POST /otlp/v1/traces takes the storefront's browser spans to the collector's
// OTLP/HTTP receiver, so the collector needs no opening towards browsers (no
// CORS, no public port). It takes OTLP trace exports only, in either OTLP/HTTP
// encoding, of at most maxTracesBody, at TracesRateLimit per address (the
// guard). Every span is stamped service.name=storefront: a browser speaks only
// for the storefront, never for a service of the shop. What the collector
// refuses is counted in shop.gateway.browser_spans{outcome="refused"} and the
// browser told to retry later or drop, as OTLP says.

// maxTracesBody bounds one export: the storefront sends at most 30 spans at a time.
const maxTracesBody = 256 << 10

const (
	otlpProtobuf = "application/x-protobuf"
	otlpJSON     = "application/json"
)

var (
	errTracesTooLarge = &httpx.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
		Message: fmt.Sprintf("an export of spans must be at most %d bytes", maxTracesBody)}
	errTracesMediaType = &httpx.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: "send an OTLP trace export as " + otlpProtobuf + " or " + otlpJSON}
	errTracesEncoding = &httpx.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_encoding",
		Message: "send the spans uncompressed (no Content-Encoding)"}
)

// Outcomes of the browsers' spans, as shop.gateway.browser_spans counts them.
var (
	spansForwarded   = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "forwarded")))
	spansRefused     = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "refused")))
	spansUndelivered = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "undelivered")))
)

func (s *server) startTraces(cfg Config) error {
	u, err := url.Parse(cfg.BrowserTracesURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("BROWSER_TRACES_URL %q is not an http(s) URL", cfg.BrowserTracesURL)
	}
	s.collector = u
	s.browserSpans, _ = s.tel.Meter(scope).Int64Counter("shop.gateway.browser_spans",
		metric.WithUnit("{span}"),
		metric.WithDescription("Spans browsers sent to POST /otlp/v1/traces, by outcome: forwarded to the collector, "+
			"refused by it, or undelivered (no answer from it)."))
	return nil
}

func (s *server) forwardTraces() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		format, err := otlpFormat(r.Header)
		if err != nil {
			return err
		}
		if r.ContentLength > maxTracesBody {
			return errTracesTooLarge
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxTracesBody)
		body, err := s.readBody(w, r)
		if errors.Is(err, errBodyTooLarge) {
			return errTracesTooLarge
		}
		if err != nil {
			return err
		}
		export, err := decodeTraces(format, body)
		if err != nil {
			return err
		}
		spans := countSpans(export)
		if spans == 0 {
			return writeExportResponse(w, format, &coltracepb.ExportTraceServiceResponse{})
		}
		stampStorefront(export)
		payload, err := proto.Marshal(export)
		if err != nil {
			return fmt.Errorf("encode browser spans: %w", err)
		}

		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		resp, err := s.postToCollector(ctx, payload)
		if err != nil {
			s.browserSpans.Add(ctx, spans, spansUndelivered)
			return &httpx.Error{Status: http.StatusServiceUnavailable, Code: "telemetry_unavailable",
				Message: "the collector cannot take spans now; retry later", RetryAfter: 5 * time.Second}
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		switch status := resp.StatusCode; {
		case status/100 == 2:
			out := &coltracepb.ExportTraceServiceResponse{}
			_ = proto.Unmarshal(answer, out) // an empty or odd answer is a plain success
			rejected := min(out.GetPartialSuccess().GetRejectedSpans(), spans)
			s.browserSpans.Add(ctx, spans-rejected, spansForwarded)
			if rejected > 0 {
				s.browserSpans.Add(ctx, rejected, spansRefused)
			}
			return writeExportResponse(w, format, out)
		case status == http.StatusTooManyRequests || status >= 500:
			// The collector sheds load (its memory limiter) or is unwell: the browser may retry.
			s.browserSpans.Add(ctx, spans, spansRefused)
			return &httpx.Error{Status: http.StatusServiceUnavailable, Code: "telemetry_busy",
				Message:    fmt.Sprintf("the collector refused the spans for now (%d); retry later", status),
				RetryAfter: retryAfterOf(resp.Header, 5*time.Second)}
		default:
			// The collector will not take these spans however often they come.
			s.browserSpans.Add(ctx, spans, spansRefused)
			return &httpx.Error{Status: http.StatusBadRequest, Code: "spans_refused",
				Message: fmt.Sprintf("the collector refused the spans (%d)", status)}
		}
	})
}

func (s *server) postToCollector(ctx context.Context, payload []byte) (*http.Response, error) {
	ctx = telemetry.WithURLTemplate(ctx, s.collector.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.collector.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", otlpProtobuf)
	return s.transport.RoundTrip(req)
}

// otlpFormat is the OTLP/HTTP encoding of a request, or why it is not one.
func otlpFormat(h http.Header) (string, error) {
	if enc := h.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return "", errTracesEncoding
	}
	media, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || (media != otlpProtobuf && media != otlpJSON) {
		return "", errTracesMediaType
	}
	return media, nil
}

func invalidTraces(why string) *httpx.Error {
	return httpx.BadRequest("invalid_otlp", "not an OTLP trace export: "+why)
}

// decodeTraces reads an OTLP trace export strictly: a field the schema does not
// have (another signal's export, say) is refused, and so is a span without a
// proper trace and span id.
func decodeTraces(format string, body []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	export := &coltracepb.ExportTraceServiceRequest{}
	switch format {
	case otlpProtobuf:
		if err := proto.Unmarshal(body, export); err != nil {
			return nil, invalidTraces("the protobuf does not decode")
		}
		if hasUnknownFields(export.ProtoReflect()) {
			return nil, invalidTraces("it holds fields a trace export does not have")
		}
	default:
		pj, err := otlpJSONToProtoJSON(body)
		if err != nil {
			return nil, err
		}
		if err := protojson.Unmarshal(pj, export); err != nil {
			return nil, invalidTraces("the JSON does not match the schema")
		}
	}
	for _, rs := range export.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				if len(sp.TraceId) != 16 || len(sp.SpanId) != 8 || (len(sp.ParentSpanId) != 0 && len(sp.ParentSpanId) != 8) {
					return nil, invalidTraces("a span has no 16-byte trace id and 8-byte span id")
				}
			}
		}
	}
	return export, nil
}

// otlpJSONToProtoJSON turns OTLP/JSON into the protobuf JSON mapping, which
// differs in one way: OTLP/JSON writes trace and span ids in hex, protobuf JSON
// writes bytes in base64.
func otlpJSONToProtoJSON(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // 64-bit timestamps stay exact
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, invalidTraces("the body is not one JSON object")
	}
	ids := func(m map[string]any, keys ...string) error {
		for _, k := range keys {
			v, ok := m[k]
			if !ok {
				continue
			}
			s, isString := v.(string)
			raw, err := hex.DecodeString(s)
			if !isString || err != nil {
				return invalidTraces(k + " must be hex")
			}
			m[k] = base64.StdEncoding.EncodeToString(raw)
		}
		return nil
	}
	for _, rs := range objects(doc, "resourceSpans", "resource_spans") {
		for _, ss := range objects(rs, "scopeSpans", "scope_spans") {
			for _, sp := range objects(ss, "spans") {
				if err := ids(sp, "traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"); err != nil {
					return nil, err
				}
				for _, link := range objects(sp, "links") {
					if err := ids(link, "traceId", "trace_id", "spanId", "span_id"); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return json.Marshal(doc)
}

// objects is the list of JSON objects under one of keys of m; anything else is
// left for the schema to refuse.
func objects(m map[string]any, keys ...string) []map[string]any {
	var out []map[string]any
	for _, k := range keys {
		list, _ := m[k].([]any)
		for _, v := range list {
			if o, ok := v.(map[string]any); ok {
				out = append(out, o)
			}
		}
	}
	return out
}

func hasUnknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len() && !found; i++ {
				found = hasUnknownFields(v.List().Get(i).Message())
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			found = hasUnknownFields(v.Message())
		}
		return !found
	})
	return found
}

func countSpans(export *coltracepb.ExportTraceServiceRequest) int64 {
	var n int64
	for _, rs := range export.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += int64(len(ss.Spans))
		}
	}
	return n
}

// stampStorefront makes every resource of the export the storefront's: whatever
// service or deployment a browser names is dropped, service.name=storefront and
// service.namespace=shop are set, and the collector adds the deployment
// environment, as it does for the services.
func stampStorefront(export *coltracepb.ExportTraceServiceRequest) {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	for _, rs := range export.ResourceSpans {
		if rs.Resource == nil {
			rs.Resource = &resourcepb.Resource{}
		}
		kept := rs.Resource.Attributes[:0]
		for _, kv := range rs.Resource.Attributes {
			if !strings.HasPrefix(kv.Key, "service.") && !strings.HasPrefix(kv.Key, "deployment.") {
				kept = append(kept, kv)
			}
		}
		rs.Resource.Attributes = append(kept, str("service.name", "storefront"), str("service.namespace", "shop"))
	}
}

func writeExportResponse(w http.ResponseWriter, format string, out *coltracepb.ExportTraceServiceResponse) error {
	var body []byte
	var err error
	if format == otlpJSON {
		body, err = protojson.Marshal(out)
	} else {
		body, err = proto.Marshal(out)
	}
	if err != nil {
		return fmt.Errorf("encode export response: %w", err)
	}
	w.Header().Set("Content-Type", format)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// retryAfterOf reads a Retry-After of whole seconds, else def.
func retryAfterOf(h http.Header, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil && n > 0 && n <= 300 {
		return time.Duration(n) * time.Second
	}
	return def
}
