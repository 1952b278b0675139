import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Broker, Listener } from '@x/broker';
import { listenOn, PacketTracer } from '@x/broker';
import { BlockListHook } from '@x/broker-auth';
import type { Registry } from 'prom-client';
import { type ApiRoute, handleApi } from './api.js';
import { brokerMetrics } from './metrics.js';
import { HttpError, sendError, sendJson } from './respond.js';
import { StreamHub, type StreamLimits } from './stream.js';

/**
 * Serves a web page and its assets: returns true when it answered the request, false to let the
 * listener go on (404). `@x/broker-dashboard`'s `dashboardHandler()` is one.
 */
export type PageHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/** Options of {@link HttpListener}. */
export interface HttpListenerOptions extends StreamLimits {
  broker: Broker;
  /** Default 'http'. */
  id?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Bearer token of the management API under /api/v1/. Without one the API answers 403. */
  token?: string;
  /**
   * The block list the API edits. Default: a new one, added to the broker as a hook by the
   * constructor.
   */
  blockList?: BlockListHook;
  /** Shown by `GET /api/v1/config` (mask secrets first). */
  config?: unknown;
  /**
   * Include the Node.js process metrics in /metrics. Default true. The registry (and prom-client) is
   * made by the first scrape, so the metrics that observe (GC pauses, event-loop delay) count from it.
   */
  processMetrics?: boolean;
  /** Largest request body, bytes. Default 1 MiB. */
  maxBody?: number;
  /**
   * Serves the web dashboard at `/` (for example `dashboardHandler()` from `@x/broker-dashboard`).
   * Default none: `/` answers 404.
   */
  dashboard?: PageHandler;
  /**
   * Packet traces started through `/api/v1/traces`. Default: a new `PacketTracer` writing to the
   * broker's log, at most 4 traces at once.
   */
  tracer?: PacketTracer;
  /**
   * More read-only resources of the management API, behind the same token: `GET /api/v1/<name>`
   * answers the function's value as JSON (e.g. `{ bridges: () => bridges.status() }`). The built-in
   * resources keep their names. Default none.
   */
  resources?: Readonly<Record<string, () => unknown>>;
  /**
   * More endpoint trees of the management API, behind the same token: `/api/v1/<name>/…` with any
   * method, answered by the function (e.g. a cluster's `nodes`, `clients/<id>`, `clients/<id>/kick`).
   * The built-in resources keep their names. Default none.
   */
  routes?: Readonly<Record<string, ApiRoute>>;
}

/**
 * Serves, over HTTP: `/stats` (the `$SYS` figures as JSON), `/healthz` (the process answers),
 * `/readyz` (200 while the broker is running and its store can write, else 503), `/metrics` (Prometheus), the bearer-token
 * management API under `/api/v1/` (with server-sent event streams), and the dashboard at `/` when
 * given one. Added to a broker like any listener, so it starts and stops with it.
 */
export class HttpListener implements Listener {
  readonly id: string;
  readonly blockList: BlockListHook;
  /** The packet tracer the API starts and stops traces on. */
  readonly tracer: PacketTracer;
  readonly #options: HttpListenerOptions;
  readonly #host: string;
  readonly #token: Buffer | undefined;
  #metrics: Registry | undefined;
  readonly #streams: StreamHub;
  #port: number;
  #server: Server | undefined;

  constructor(options: HttpListenerOptions) {
    this.id = options.id ?? 'http';
    this.#options = options;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 8080;
    this.#token = options.token ? digest(options.token) : undefined;
    this.blockList = options.blockList ?? new BlockListHook();
    if (!options.blockList) options.broker.addHook(this.blockList);
    this.#streams = new StreamHub(options.broker, options);
    this.tracer = options.tracer ?? new PacketTracer(options.broker);
  }

  /** The bound port (the real one after `listen` when 0 was asked). */
  get port(): number {
    return this.#port;
  }

  address(): string {
    return `http://${this.#host}:${this.#port}`;
  }

  listen(): Promise<void> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        const failure =
          error instanceof HttpError
            ? error
            : new HttpError(500, 'INTERNAL_ERROR', (error as Error).message ?? 'error');
        if (response.headersSent) response.destroy();
        else sendError(response, failure);
      });
    });
    server.on('clientError', (_error, socket) => socket.destroy());
    this.#server = server;
    return listenOn(server, this.#port, this.#host).then((port) => {
      this.#port = port;
      // The dashboard's charts open with the last 15 minutes, so keep them from the start.
      if (this.#options.dashboard) this.#streams.startSampling();
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    this.#streams.close();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #authorized(request: IncomingMessage): void {
    if (!this.#token) {
      throw new HttpError(403, 'API_DISABLED', 'the management API is disabled: configure a bearer token');
    }
    const header = request.headers.authorization ?? '';
    // Digests of equal length are compared, so the time taken reveals neither the token nor its length.
    const given = digest(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
    if (!timingSafeEqual(given, this.#token)) {
      throw new HttpError(401, 'UNAUTHORIZED', 'missing or wrong bearer token');
    }
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const { broker } = this.#options;
    if (path === '/healthz') return sendJson(response, 200, { status: 'ok' });
    if (path === '/readyz') {
      // Ready only while running with a store that can write: 503 before start completes, from the
      // moment close() begins, and while QoS 1/2 publishes are refused because the store cannot
      // keep them, so load balancers send clients elsewhere.
      const state = broker.state;
      if (broker.ready) return sendJson(response, 200, { status: 'ready' });
      return sendJson(response, 503, { status: state === 'running' ? 'store-unavailable' : state });
    }
    if (path === '/stats') {
      if (method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use GET');
      return sendJson(response, 200, broker.refreshStats());
    }
    if (path === '/metrics') {
      // Made by the first scrape: a broker nobody scrapes never loads prom-client (about 2.4 MB of
      // heap). The process metrics that observe (GC, event-loop delay) count from then on.
      this.#metrics ??= brokerMetrics(this.#options.broker, {
        processMetrics: this.#options.processMetrics ?? true,
      });
      const text = await this.#metrics.metrics();
      response.writeHead(200, { 'content-type': this.#metrics.contentType });
      response.end(text);
      return;
    }
    if (path === '/api/v1' || path.startsWith('/api/v1/')) {
      this.#authorized(request);
      const parts = path
        .slice('/api/v1/'.length)
        .split('/')
        .filter((p) => p !== '')
        .map((p) => {
          try {
            return decodeURIComponent(p);
          } catch {
            throw new HttpError(400, 'INVALID_PATH', `cannot decode "${p}"`);
          }
        });
      return handleApi(
        {
          broker,
          blockList: this.blockList,
          config: this.#options.config,
          maxBody: this.#options.maxBody ?? 1024 * 1024,
          streams: this.#streams,
          tracer: this.tracer,
          ...(this.#options.resources ? { resources: this.#options.resources } : {}),
          ...(this.#options.routes ? { routes: this.#options.routes } : {}),
        },
        method,
        parts,
        url.searchParams,
        request,
        response,
      );
    }
    if (this.#options.dashboard?.(request, response)) return;
    throw new HttpError(404, 'NOT_FOUND', `no such endpoint: ${path}`);
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
