// Package loadtest owns the shop's load generator (`shop loadgen`): weighted shopper
// scenarios against the gateway API, an open model (arrival rate with ramp, hold and
// spike stages) and a closed model (looping virtual users), latency measured from each
// request's intended start so a stalled target cannot hide behind the generator, HDR
// histograms per endpoint, declarative thresholds, and text, JSON and HTML reports whose
// slowest requests link to their traces in Jaeger.
//
// The generator is itself instrumented: every request is a client span carrying W3C
// trace context and baggage that marks it synthetic, and its own metrics are one set of
// OpenTelemetry instruments on the injected MeterProvider, served on -metrics-addr
// through the Prometheus exporter among that provider's readers.
//
// This package parses the flags and wires one run together; the parts live under
// internal/ (see README.md, "Where things are"). Entry point: Main. Everything else is
// unexported on purpose; the flags are the API.
package loadtest
