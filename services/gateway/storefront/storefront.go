// Package storefront is the shop's face in a browser, served by the gateway at /:
// pages rendered with html/template from the same public API every client uses
// (called in process, through the gateway's guard and routes, so a page gets no
// more than a client's request would), a small script bundle (web/, built into
// static/storefront.js) that makes the browser a traced service of its own,
// `storefront`, and the session cookie that carries a shopper's token.
//
// The token never reaches script: it lives in an HttpOnly, SameSite=Strict cookie
// (Secure over TLS). The gateway honours that cookie on /api/ only with the
// X-Shop-CSRF header (SessionToken), which a page of another origin cannot send
// without a CORS preflight the shop never answers.
package storefront

import (
	"log/slog"
	"net/http"
)

// Config is what the storefront needs from the gateway.
type Config struct {
	// API answers the public API (/api/...): the gateway's guard around its routes.
	// Pages call it in process with the shopper's token, as a client would.
	API http.Handler
	// JaegerURL, when set, is where the order page links the trace of the checkout
	// that placed it (Jaeger's UI, /trace/<id>).
	JaegerURL string
	// SecureCookie marks the session cookie Secure even on a request that did not
	// arrive over TLS (TLS ended by a proxy in front of the gateway).
	SecureCookie bool
	Logger       *slog.Logger
}

// Storefront serves the pages, the static assets and the session endpoints.
type Storefront struct {
	cfg   Config
	pages pages
}

// New parses the embedded templates; they are part of the binary, so a template
// that does not parse is a programming error, found by the first test.
func New(cfg Config) *Storefront {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Storefront{cfg: cfg, pages: mustParsePages()}
}
