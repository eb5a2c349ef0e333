// The storefront's script: telemetry first, so that the page's own actions are traced.
import { startTelemetry } from './telemetry.js';
import { startApp } from './app.js';

startApp(startTelemetry());
