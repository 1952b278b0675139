export { type ApiContext, handleApi } from './api.js';
export { HttpListener, type HttpListenerOptions } from './http-listener.js';
export { brokerMetrics } from './metrics.js';
