// The browser as a traced service of the shop, `storefront`: page loads
// (document-load instrumentation, continuing the trace of the gateway's span that
// rendered the page, from <meta name="traceparent">), every fetch to the API
// (fetch instrumentation, with W3C traceparent, so the browser's span is the root
// of the backend's trace) and the page's web vitals. Spans go to the gateway's
// POST /otlp/v1/traces, which forwards them to the collector.

import { ROOT_CONTEXT, propagation } from '@opentelemetry/api';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { onCLS, onINP, onLCP } from 'web-vitals';

export const TRACES_PATH = '/otlp/v1/traces';

// OpenSpans remembers the spans started and not yet ended, by trace, so that an
// action can wait for all of its spans (the fetch instrumentation ends a fetch's
// span a moment after the answer) before the page goes away and flushes them.
class OpenSpans {
  constructor() { this.open = new Map(); this.waiting = new Map(); }
  onStart(span) {
    const id = span.spanContext().traceId;
    this.open.set(id, (this.open.get(id) || 0) + 1);
  }
  onEnd(span) {
    const id = span.spanContext().traceId;
    const n = (this.open.get(id) || 1) - 1;
    if (n > 0) { this.open.set(id, n); return; }
    this.open.delete(id);
    for (const done of this.waiting.get(id) || []) done();
    this.waiting.delete(id);
  }
  // settled resolves once no span of the trace is open, or after limitMs.
  settled(traceId, limitMs) {
    if (!this.open.has(traceId)) return Promise.resolve();
    return new Promise(resolve => {
      const list = this.waiting.get(traceId) || [];
      list.push(resolve);
      this.waiting.set(traceId, list);
      setTimeout(resolve, limitMs);
    });
  }
  forceFlush() { return Promise.resolve(); }
  shutdown() { return Promise.resolve(); }
}

// The storefront's page routes, as templates: span attributes name a page by
// its route, never by the ids in its URL.
const pageRoutes = [
  [/^\/products\/[^/]+$/, '/products/{id}'],
  [/^\/orders\/[^/]+$/, '/orders/{id}'],
];

export function pageRoute(path) {
  for (const [pattern, route] of pageRoutes) if (pattern.test(path)) return route;
  return path;
}

// The API's routes with parameters (docs/contract.md), for the fetch spans' names.
const apiRoutes = [
  [/^\/api\/products\/[^/]+$/, '/api/products/{id}'],
  [/^\/api\/cart\/items\/[^/]+$/, '/api/cart/items/{product_id}'],
  [/^\/api\/orders\/[^/]+\/shipment$/, '/api/orders/{id}/shipment'],
  [/^\/api\/orders\/[^/]+$/, '/api/orders/{id}'],
];

export function apiRoute(path) {
  for (const [pattern, route] of apiRoutes) if (pattern.test(path)) return route;
  return path;
}

export function startTelemetry() {
  const openSpans = new OpenSpans();
  const exporter = new OTLPTraceExporter({ url: new URL(TRACES_PATH, location.origin).href });
  const provider = new WebTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'storefront', 'service.namespace': 'shop' }),
    spanProcessors: [
      openSpans,
      // Small batches, sent every second: a batch must fit the browser's 64 KiB
      // for requests that outlive the page (the exporter's keepalive fetch).
      new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000, maxExportBatchSize: 30, maxQueueSize: 600 }),
    ],
  });
  provider.register();

  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new DocumentLoadInstrumentation({
        applyCustomAttributesOnSpan: {
          documentLoad: span => span.setAttribute('url.template', pageRoute(location.pathname)),
          documentFetch: span => span.setAttribute('url.template', pageRoute(location.pathname)),
        },
      }),
      new FetchInstrumentation({
        ignoreUrls: [/\/otlp\//],
        applyCustomAttributesOnSpan: (span, request) => {
          const url = new URL(span.attributes?.['url.full'] || '', location.origin);
          const route = apiRoute(url.pathname);
          const method = (request && request.method) || 'GET';
          span.setAttribute('url.template', route);
          span.updateName(`${method.toUpperCase()} ${route}`);
        },
      }),
    ],
  });

  const tracer = provider.getTracer('storefront');
  reportWebVitals(tracer, provider);
  return {
    tracer,
    // settle waits until the trace's spans have ended, then sends them; a
    // collector that cannot take them never holds the shopper up.
    async settle(traceId) {
      await openSpans.settled(traceId, 3000);
      await provider.forceFlush().catch(() => {});
    },
  };
}

// reportWebVitals records LCP, INP and CLS (Google's web-vitals library) as spans
// of the page view's trace, under the gateway's span that rendered the page, the
// value in attributes. LCP and INP are times, so their spans last that long
// (LCP from the navigation's start, INP from the interaction's) and the
// collector's span metrics measure them; CLS has no duration. They are reported
// when the page is hidden, so each is sent at once.
function reportWebVitals(tracer, provider) {
  const meta = document.querySelector('meta[name="traceparent"]');
  const parent = meta ? propagation.extract(ROOT_CONTEXT, { traceparent: meta.content }) : ROOT_CONTEXT;
  const record = metric => {
    let start = Date.now();
    let end = start;
    if (metric.name === 'LCP') {
      start = performance.timeOrigin;
      end = start + metric.value;
    } else if (metric.name === 'INP') {
      const entry = metric.entries[0];
      start = entry ? performance.timeOrigin + entry.startTime : Date.now() - metric.value;
      end = start + metric.value;
    }
    const span = tracer.startSpan(`web-vital ${metric.name}`, {
      startTime: start,
      attributes: {
        'web_vital.name': metric.name,
        'web_vital.value': metric.value,
        'web_vital.rating': metric.rating,
        'web_vital.navigation_type': metric.navigationType,
        'url.template': pageRoute(location.pathname),
      },
    }, parent);
    span.end(end);
    provider.forceFlush().catch(() => {});
  };
  onLCP(record);
  onINP(record);
  onCLS(record);
}
