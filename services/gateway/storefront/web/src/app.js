// What the storefront's pages do in the browser: every form with a data-action
// becomes a call to the public API (or to /session), in a span of its own named
// after the action, whose trace the API's spans join (fetch sends traceparent).
// Text from the API is put into the page with textContent only, never as HTML.

import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { pageRoute } from './telemetry.js';

const CSRF_HEADER = 'X-Shop-CSRF';

let telemetry;

export function startApp(t) {
  telemetry = t;
  for (const form of document.querySelectorAll('form[data-action]')) {
    form.addEventListener('submit', event => {
      event.preventDefault();
      run(form, form.dataset.action);
    });
  }
  for (const button of document.querySelectorAll('button[data-action]')) {
    button.addEventListener('click', () => run(button, button.dataset.action));
  }
  const shipment = document.querySelector('[data-shipment][data-pending]');
  if (shipment) waitForShipment(shipment);
}

// ApiError is an error answer: {"error":{"code","message","field"}}, or no answer.
class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || (status ? `the shop answered ${status}` : 'the shop could not be reached'));
    this.status = status;
    this.code = e.code || (status ? 'unexpected_answer' : 'network');
    this.field = e.field || '';
  }
}

// api calls the shop as the signed-in shopper (the session cookie, sent only with
// the CSRF header), inside span: the fetch's span is its child.
function api(span, method, path, body) {
  const headers = { Accept: 'application/json', [CSRF_HEADER]: '1' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method === 'POST' && path === '/api/checkout') headers['Idempotency-Key'] = checkoutKey(body);
  const sent = context.with(trace.setSpan(context.active(), span), () => fetch(path, init));
  return sent.then(async res => {
    let data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch { data = null; }
    }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }, () => { throw new ApiError(0, null); });
}

// A checkout retried with the same details (a lost answer, a double click) is the
// same checkout; other details are another one.
const checkoutKeys = new Map();
function checkoutKey(body) {
  const id = JSON.stringify(body);
  if (!checkoutKeys.has(id)) {
    // getRandomValues, not randomUUID: a shop opened over plain HTTP on another host
    // is no secure context, and randomUUID is only there in one.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    checkoutKeys.set(id, 'checkout-' + Array.from(bytes, b => b.toString(16).padStart(2, '0')).join(''));
  }
  return checkoutKeys.get(id);
}

// run performs one action in a span named after it, the root of its trace.
// What the action leads to (a message, another page) comes once the trace's
// spans have ended and been sent: the fetch instrumentation ends a fetch's span
// a moment after its answer, and a page that went away before would lose it.
async function run(el, action) {
  const perform = actions[action];
  if (!perform) return;
  const button = el.matches('button') ? el : el.querySelector('button[type="submit"]');
  if (button) button.disabled = true;
  clearMessage();
  const span = telemetry.tracer.startSpan(action, {
    attributes: { 'url.template': pageRoute(location.pathname), 'shop.action': action },
  }, context.active());
  let outcome = null;
  let failure = null;
  try {
    outcome = await perform(span, el);
  } catch (err) {
    failure = err;
    if (err instanceof ApiError) {
      span.setAttribute('shop.error.code', err.code);
      if (err.status === 0 || err.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: err.code });
    } else {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
    }
  } finally {
    span.end();
  }
  await telemetry.settle(span.spanContext().traceId);
  if (button) button.disabled = false;
  if (failure instanceof ApiError) return showError(failure, el);
  if (failure) return showMessage('error', 'Something went wrong in this page. Reload it and try again.');
  if (typeof outcome === 'function') return outcome();
  if (outcome === 'reload') return location.reload();
  if (outcome) location.assign(outcome);
}

function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function quantity(form) {
  const n = Number(values(form).quantity);
  return Number.isInteger(n) ? n : 0;
}

// Each action returns what follows it: where to go ('reload', a path), or what
// to show (a function), or nothing.
const actions = {
  async signin(span, form) {
    const v = values(form);
    await api(span, 'POST', '/session', { email: v.email, password: v.password });
    return form.dataset.next || '/';
  },

  async signup(span, form) {
    const v = values(form);
    await api(span, 'POST', '/api/users/register', { email: v.email, password: v.password, name: v.name });
    await api(span, 'POST', '/session', { email: v.email, password: v.password });
    return form.dataset.next || '/';
  },

  async signout(span) {
    await api(span, 'DELETE', '/session');
    return '/';
  },

  async 'add-to-cart'(span, form) {
    const cart = await api(span, 'POST', '/api/cart/items', { product_id: form.dataset.productId, quantity: quantity(form) });
    const count = cart.items.reduce((n, it) => n + it.quantity, 0);
    return () => {
      for (const el of document.querySelectorAll('[data-cart-count]')) el.textContent = String(count);
      showMessage('ok', 'Added to your cart.', { href: '/cart', text: 'View your cart' });
    };
  },

  async 'cart-quantity'(span, form) {
    await api(span, 'PUT', '/api/cart/items/' + encodeURIComponent(form.dataset.productId), { quantity: quantity(form) });
    return 'reload';
  },

  async 'cart-remove'(span, form) {
    await api(span, 'DELETE', '/api/cart/items/' + encodeURIComponent(form.dataset.productId));
    return 'reload';
  },

  async checkout(span, form) {
    const v = values(form);
    const order = await api(span, 'POST', '/api/checkout', {
      payment: { card_number: v.card_number.replace(/[\s-]/g, ''), expiry: v.expiry, cvc: v.cvc },
      shipping_address: { name: v.name, line1: v.line1, city: v.city, postal_code: v.postal_code, country: v.country },
    });
    span.setAttribute('shop.order.status', order.status);
    if (order.status !== 'placed') {
      // An earlier checkout of this cart is still running, or failed: the order says.
      return '/orders/' + encodeURIComponent(order.id);
    }
    return '/orders/' + encodeURIComponent(order.id) + '?placed=1&trace=' + span.spanContext().traceId;
  },
};

// waitForShipment asks for the order's shipment until shipping has it (it takes
// the order from RabbitMQ a moment after the order is placed): 1 s apart at
// first, then further apart, for about two minutes.
async function waitForShipment(section) {
  const id = section.dataset.orderId;
  let delay = 1000;
  for (let waited = 0; waited < 120000; waited += delay, delay = Math.min(delay * 1.5, 15000)) {
    await new Promise(resolve => setTimeout(resolve, delay));
    const span = telemetry.tracer.startSpan('wait for shipment', { attributes: { 'url.template': '/orders/{id}' } }, context.active());
    try {
      const shipment = await api(span, 'GET', '/api/orders/' + encodeURIComponent(id) + '/shipment');
      showShipment(section, shipment);
      return;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) {
        if (err instanceof ApiError && err.status === 401) { showError(err); return; }
        span.setAttribute('shop.error.code', err.code || 'unknown');
      }
    } finally {
      span.end();
    }
  }
  const waiting = section.querySelector('[data-shipment-waiting]');
  if (waiting) waiting.textContent = 'The shipment is taking longer than usual. Reload the page later to see it.';
}

function showShipment(section, shipment) {
  delete section.dataset.pending;
  const facts = document.createElement('dl');
  facts.className = 'facts';
  const add = (term, value, attr) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (attr) dd.setAttribute(attr, '');
    facts.append(dt, dd);
  };
  add('Status', shipment.status, 'data-shipment-status');
  add('Carrier', shipment.carrier, 'data-shipment-carrier');
  add('Shipping', '$' + (shipment.quote_cents / 100).toFixed(2));
  add('Since', new Date(shipment.created_at).toUTCString());
  const waiting = section.querySelector('[data-shipment-waiting]');
  if (waiting) waiting.replaceWith(facts); else section.append(facts);
}

// ---- messages

function clearMessage() {
  const box = document.getElementById('messages');
  if (box) box.replaceChildren();
  for (const el of document.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
}

function showMessage(kind, text, link) {
  const box = document.getElementById('messages');
  if (!box) return;
  const p = document.createElement('p');
  p.className = 'message message-' + kind;
  p.dataset.message = kind;
  p.textContent = text + (link ? ' ' : '');
  if (link) {
    const a = document.createElement('a');
    a.href = link.href;
    a.textContent = link.text;
    p.append(a);
  }
  box.replaceChildren(p);
  p.scrollIntoView({ block: 'nearest' });
}

function signInLink() {
  return { href: '/signin?expired=1&next=' + encodeURIComponent(location.pathname + location.search), text: 'Sign in again' };
}

// showError says what went wrong, for every answer the API can give.
function showError(err, form) {
  switch (err.code) {
    case 'payment_declined':
      return showMessage('error', 'Your card was declined, and nothing was charged. Your cart is unchanged: try another card.');
    case 'out_of_stock':
      return showMessage('error', sentence(err.message) + ' Your cart is unchanged: lower the quantity or remove the item.', { href: '/cart', text: 'Change the cart' });
    case 'empty_cart':
      return showMessage('error', 'Your cart is empty.', { href: '/', text: 'Browse the products' });
    case 'token_expired':
      return showMessage('error', 'Your session has expired.', signInLink());
    case 'unauthorized':
      if (form && form.dataset.action === 'signin') return showMessage('error', 'That email and password do not match an account.');
      return showMessage('error', 'Sign in to continue.', signInLink());
    case 'csrf_header_missing':
    case 'cross_origin':
      return showMessage('error', 'Your session is not valid on this page.', signInLink());
    case 'email_taken':
      return showMessage('error', 'An account with this email exists already.', { href: '/signin', text: 'Sign in instead' });
    case 'rate_limited':
    case 'too_many_attempts':
      return showMessage('error', sentence(err.message) + ' Wait a moment and try again.');
    case 'network':
      return showMessage('error', 'The shop could not be reached. Check your connection and try again.');
  }
  if (err.field && form) {
    const name = err.field.split('.').pop();
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  }
  if (err.status >= 500 || err.status === 0) {
    return showMessage('error', 'The shop could not do this just now (' + err.message + '). Try again in a moment.');
  }
  return showMessage('error', sentence(err.message));
}

function sentence(text) {
  const s = String(text || '').trim();
  if (!s) return 'That did not work.';
  return s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}
