import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Broker, BrokerError, type PacketTracer, type SessionInfo } from '@x/broker';
import type { BlockListHook } from '@x/broker-auth';
import type { Properties, QoS } from '@x/packets';
import { isValidTopicFilter, isValidTopicName, matchesFilter } from '@x/topics';
import type {
  BlockEntryBody,
  ClientCountResponse,
  ClientDetails,
  ClientSummary,
  ConfigResponse,
  DeleteRetainedResponse,
  InfoResponse,
  KickResponse,
  Page,
  PublishResponse,
  RetainedItem,
  StatsResponse,
  SubscriptionItem,
  TraceItem,
} from './api-types.js';
import { HttpError, integerParam, page, paging, readJson, sendJson } from './respond.js';
import type { StreamHub } from './stream.js';

/** What the management API works on. */
export interface ApiContext {
  broker: Broker;
  blockList: BlockListHook;
  /** The host's configuration, shown by `GET /api/v1/config` (secrets already masked). */
  config?: unknown;
  /** Largest JSON body accepted, bytes. */
  maxBody: number;
  /** The server-sent event streams; without it `/api/v1/stream` answers 404. */
  streams?: StreamHub;
  /** Packet traces started and stopped through `/api/v1/traces`; without it they answer 404. */
  tracer?: PacketTracer;
  /** More read-only resources: `GET /api/v1/<name>` answers what the function returns, as JSON. */
  resources?: Readonly<Record<string, () => unknown>>;
  /** More endpoint trees: `/api/v1/<name>/…` with any method (see {@link ApiRoute}). */
  routes?: Readonly<Record<string, ApiRoute>>;
}

/** What an {@link ApiRoute} is asked. */
export interface ApiRouteRequest {
  method: string;
  /** The decoded path parts after `/api/v1/<name>/`. */
  path: readonly string[];
  query: URLSearchParams;
}

/**
 * A plugin's endpoints under `/api/v1/<name>/…`, behind the API's token: returns the JSON to send
 * with 200 (or a promise of it), `undefined` for 404, or throws an {@link HttpError} for another
 * status.
 */
export type ApiRoute = (request: ApiRouteRequest) => unknown;

const TRACE_KEYS = new Set(['clientId', 'topicFilter', 'maxBytes', 'durationMs', 'payloadBytes']);

async function startTrace(
  tracer: PacketTracer,
  ctx: ApiContext,
  request: IncomingMessage,
): Promise<TraceItem> {
  const body = await readJson(request, ctx.maxBody);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_BODY', 'the body must be an object with clientId or topicFilter');
  }
  const extra = Object.keys(body).find((key) => !TRACE_KEYS.has(key));
  if (extra !== undefined) {
    throw new HttpError(
      400,
      'INVALID_BODY',
      `unknown field "${extra}" (allowed: ${[...TRACE_KEYS].join(', ')})`,
    );
  }
  try {
    // Traces started here write to the tracer's own sink (the log): a request cannot name a file.
    return tracer.start(body);
  } catch (error) {
    if (error instanceof BrokerError && error.code === 'TRACE_LIMIT')
      throw new HttpError(409, error.code, error.message);
    if (error instanceof BrokerError) throw new HttpError(400, error.code, error.message);
    throw error;
  }
}

function traceId(id: string | undefined): number {
  const n = Number(id);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(404, 'TRACE_NOT_FOUND', `no trace ${id}`);
  return n;
}

function sessionSummary(session: SessionInfo): ClientSummary {
  const client = session.client?.state === 'connected' ? session.client : undefined;
  return {
    clientId: session.clientId,
    online: client !== undefined,
    protocolVersion: session.protocolVersion,
    username: client?.username ?? null,
    remoteAddress: client?.remoteAddress ?? null,
    listener: client?.listener ?? null,
    connectedAt: client ? new Date(client.connectedAt).toISOString() : null,
  };
}

function sessionDetails(session: SessionInfo): ClientDetails {
  const client = session.client?.state === 'connected' ? session.client : undefined;
  return {
    ...sessionSummary(session),
    keepAlive: client?.keepalive ?? null,
    lastSeen: client ? new Date(client.lastSeen).toISOString() : null,
    sessionExpiryInterval: session.expiryInterval,
    inflight: session.inflightCount,
    queued: session.queuedCount,
    dropped: session.droppedCount,
    subscriptions: [...session.subscriptions.values()],
  };
}

function sessionOf(broker: Broker, id: string): SessionInfo {
  const session = broker.sessions.get(id);
  if (!session) throw new HttpError(404, 'CLIENT_NOT_FOUND', `no session with client id "${id}"`);
  return session;
}

function asQos(value: unknown): QoS {
  if (value === undefined) return 0;
  if (value === 0 || value === 1 || value === 2) return value;
  throw new HttpError(400, 'INVALID_QOS', 'qos must be 0, 1 or 2');
}

const PROPERTY_KEYS = new Set([
  'payloadFormatIndicator',
  'messageExpiryInterval',
  'contentType',
  'responseTopic',
  'correlationData',
  'userProperties',
]);

function asProperties(value: unknown): Properties | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'INVALID_PROPERTIES', 'properties must be an object');
  }
  const raw = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (!PROPERTY_KEYS.has(key)) {
      throw new HttpError(
        400,
        'INVALID_PROPERTIES',
        `unknown property "${key}" (allowed: ${[...PROPERTY_KEYS].join(', ')})`,
      );
    }
    out[key] = v;
  }
  const check = (ok: boolean, message: string) => {
    if (!ok) throw new HttpError(400, 'INVALID_PROPERTIES', message);
  };
  if (out.payloadFormatIndicator !== undefined) {
    check(
      out.payloadFormatIndicator === 0 || out.payloadFormatIndicator === 1,
      'payloadFormatIndicator must be 0 or 1',
    );
  }
  if (out.messageExpiryInterval !== undefined) {
    const n = out.messageExpiryInterval;
    check(
      typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff,
      'messageExpiryInterval must be 0–4294967295',
    );
  }
  for (const key of ['contentType', 'responseTopic'] as const) {
    if (out[key] !== undefined) check(typeof out[key] === 'string', `${key} must be a string`);
  }
  if (typeof out.responseTopic === 'string')
    check(isValidTopicName(out.responseTopic), 'responseTopic is not a valid topic name');
  if (out.correlationData !== undefined) {
    check(typeof out.correlationData === 'string', 'correlationData must be a base64 string');
    out.correlationData = Buffer.from(out.correlationData as string, 'base64');
  }
  if (out.userProperties !== undefined) {
    const list = out.userProperties;
    check(
      Array.isArray(list) &&
        list.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === 'string')),
      'userProperties must be a list of [name, value] string pairs',
    );
  }
  return out as Properties;
}

async function publish(ctx: ApiContext, request: IncomingMessage): Promise<PublishResponse> {
  const body = await readJson(request, ctx.maxBody);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_BODY', 'the body must be an object with topic and payload');
  }
  const { topic, payload, encoding, qos, retain, properties, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new HttpError(400, 'INVALID_BODY', `unknown field "${extra[0]}"`);
  if (typeof topic !== 'string' || !isValidTopicName(topic)) {
    throw new HttpError(400, 'INVALID_TOPIC', 'topic must be a valid topic name (no wildcards, not empty)');
  }
  if (payload !== undefined && typeof payload !== 'string') {
    throw new HttpError(
      400,
      'INVALID_PAYLOAD',
      'payload must be a string (utf8, or base64 with encoding: "base64")',
    );
  }
  if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'base64') {
    throw new HttpError(400, 'INVALID_ENCODING', 'encoding must be utf8 or base64');
  }
  if (retain !== undefined && typeof retain !== 'boolean')
    throw new HttpError(400, 'INVALID_RETAIN', 'retain must be a boolean');
  const bytes = Buffer.from(payload ?? '', encoding === 'base64' ? 'base64' : 'utf8');
  const props = asProperties(properties);
  ctx.broker.publish(topic, bytes, {
    qos: asQos(qos),
    retain: retain ?? false,
    ...(props ? { properties: props } : {}),
  });
  return { published: true, topic, bytes: bytes.length };
}

function filterParam(query: URLSearchParams, name = 'filter'): string | undefined {
  const filter = query.get(name) ?? undefined;
  if (filter !== undefined && !isValidTopicFilter(filter)) {
    throw new HttpError(400, 'INVALID_FILTER', `${name} must be a valid topic filter`);
  }
  return filter;
}

/**
 * Routes `/api/v1/…` (the path after the prefix). Returns the JSON to send with status 200, or
 * throws an {@link HttpError}.
 */
export async function handleApi(
  ctx: ApiContext,
  method: string,
  parts: string[],
  query: URLSearchParams,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { broker } = ctx;
  const [resource, id, action] = parts;
  const route = `${method} ${resource ?? ''}${id === undefined ? '' : '/:id'}${action === undefined ? '' : `/${action}`}`;
  const reply = <T>(body: T, status = 200) => sendJson(response, status, body);
  switch (route) {
    case 'GET info': {
      const stats = broker.refreshStats();
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      return reply<InfoResponse>({
        name: '@x/broker',
        version: stats.version,
        node: process.version,
        startedAt: new Date(stats.started).toISOString(),
        uptime: Math.floor((Date.now() - stats.started) / 1000),
        state: broker.state,
        listeners: broker.listeners.map((l) => ({ id: l.id, address: l.address() })),
        ready: broker.ready,
        store: broker.store?.name ?? null,
        persistent: broker.store !== undefined,
        memory: { rss, heapUsed, heapTotal, external },
      });
    }
    case 'GET config':
      return reply<ConfigResponse>({
        broker: { ...broker.options },
        ...(ctx.config === undefined ? {} : { app: ctx.config }),
      });
    case 'GET stats':
      return reply<StatsResponse>(broker.refreshStats());
    case 'GET stream': {
      if (!ctx.streams) throw new HttpError(404, 'NOT_FOUND', 'no such endpoint: /api/v1/stream');
      const filter = filterParam(query);
      if (filter === undefined) throw new HttpError(400, 'INVALID_FILTER', 'give a topic filter as ?filter=');
      return ctx.streams.messages(response, filter);
    }
    case 'GET stream/:id': {
      if (!ctx.streams || id !== 'stats') {
        throw new HttpError(404, 'NOT_FOUND', `no such endpoint: /api/v1/${parts.join('/')}`);
      }
      return ctx.streams.stats(response);
    }
    case 'GET clients/:id': {
      if (id === 'count') {
        return reply<ClientCountResponse>({ online: broker.connectedCount, sessions: broker.sessions.size });
      }
      return reply<ClientDetails>(sessionDetails(sessionOf(broker, id!)));
    }
    case 'GET clients': {
      const { offset, limit } = paging(query);
      const contains = query.get('filter') ?? '';
      const online = query.get('online');
      if (online !== null && online !== 'true' && online !== 'false') {
        throw new HttpError(400, 'INVALID_PARAMETER', 'online must be true or false');
      }
      const username = query.get('username');
      // One search box: a substring of the client id, the user name or the remote address.
      const search = query.get('search')?.toLowerCase() ?? '';
      const items: ClientSummary[] = [];
      for (const session of broker.sessions.values()) {
        if (contains && !session.clientId.includes(contains)) continue;
        const summary = sessionSummary(session);
        if (
          search &&
          ![summary.clientId, summary.username, summary.remoteAddress].some((s) =>
            s?.toLowerCase().includes(search),
          )
        )
          continue;
        if (online !== null && summary.online !== (online === 'true')) continue;
        if (username !== null && summary.username !== username) continue;
        items.push(summary);
      }
      items.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
      return reply<Page<ClientSummary>>(page(items, offset, limit));
    }
    case 'POST clients/:id/kick':
    case 'DELETE clients/:id': {
      const reasonCode = integerParam(query, 'reasonCode', 0x98, 0x80, 0xa2);
      if (!broker.kick(id!, reasonCode)) {
        throw new HttpError(404, 'CLIENT_NOT_CONNECTED', `no connected client with id "${id}"`);
      }
      return reply<KickResponse>({ kicked: id! });
    }
    case 'GET blocklist':
      return reply<{ items: BlockEntryBody[] }>({ items: ctx.blockList.list() });
    case 'POST blocklist': {
      const body = await readJson(request, ctx.maxBody);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new HttpError(
          400,
          'INVALID_BODY',
          'the body must be an object with clientId, username or remote',
        );
      }
      try {
        return reply<BlockEntryBody>(ctx.blockList.add(body, broker), 201);
      } catch (error) {
        if (error instanceof TypeError) throw new HttpError(400, 'INVALID_BLOCK_ENTRY', error.message);
        throw error;
      }
    }
    case 'DELETE blocklist/:id': {
      const entry = Number(id);
      if (!Number.isInteger(entry) || !ctx.blockList.remove(entry)) {
        throw new HttpError(404, 'BLOCK_ENTRY_NOT_FOUND', `no block-list entry ${id}`);
      }
      return reply({ removed: entry });
    }
    case 'GET traces':
    case 'POST traces':
    case 'GET traces/:id':
    case 'DELETE traces/:id': {
      const tracer = ctx.tracer;
      if (!tracer) throw new HttpError(404, 'NOT_FOUND', `no such endpoint: /api/v1/${parts.join('/')}`);
      if (route === 'GET traces') return reply<{ items: TraceItem[] }>({ items: tracer.list() });
      if (route === 'POST traces') return reply<TraceItem>(await startTrace(tracer, ctx, request), 201);
      const n = traceId(id);
      const found = route === 'DELETE traces/:id' ? (tracer.stop(n) ?? tracer.get(n)) : tracer.get(n);
      if (!found) throw new HttpError(404, 'TRACE_NOT_FOUND', `no trace ${id}`);
      return reply<TraceItem>(found);
    }
    case 'POST publish':
      return reply<PublishResponse>(await publish(ctx, request));
    case 'GET retained': {
      const { offset, limit } = paging(query);
      const filter = filterParam(query) ?? '#';
      const contains = query.get('contains') ?? '';
      const items: RetainedItem[] = broker.retained
        .all()
        .filter((m) => matchesFilter(filter, m.topic) && m.topic.includes(contains))
        .sort((a, b) => (a.topic < b.topic ? -1 : 1))
        .map((m) => ({
          topic: m.topic,
          qos: m.qos,
          payload: Buffer.from(m.payload).toString('base64'),
          bytes: m.payload.length,
          properties: (m.properties as Record<string, unknown> | undefined) ?? null,
        }));
      return reply<Page<RetainedItem>>(page(items, offset, limit));
    }
    case 'DELETE retained': {
      const topic = query.get('topic');
      if (topic === null || !isValidTopicName(topic)) {
        throw new HttpError(400, 'INVALID_TOPIC', 'give the retained topic as ?topic=');
      }
      if (!broker.retained.get(topic))
        throw new HttpError(404, 'RETAINED_NOT_FOUND', `no retained message on "${topic}"`);
      // Storage hooks see the deletion; nothing is routed to subscribers.
      if (!broker.deleteRetained(topic))
        throw new HttpError(409, 'RETAINED_KEPT', `a hook kept the retained message on "${topic}"`);
      return reply<DeleteRetainedResponse>({ deleted: topic });
    }
    case 'GET subscriptions': {
      const { offset, limit } = paging(query);
      const filter = filterParam(query);
      const clientId = query.get('clientId');
      const contains = query.get('contains') ?? '';
      const items: SubscriptionItem[] = [];
      const sessions =
        clientId === null
          ? broker.sessions.values()
          : [broker.sessions.get(clientId)].filter((s) => s !== undefined);
      for (const session of sessions) {
        for (const sub of session.subscriptions.values()) {
          if (filter !== undefined && sub.topicFilter !== filter) continue;
          if (contains && !sub.topicFilter.includes(contains) && !session.clientId.includes(contains))
            continue;
          items.push({ ...sub, clientId: session.clientId });
        }
      }
      items.sort((a, b) =>
        a.clientId === b.clientId
          ? a.topicFilter < b.topicFilter
            ? -1
            : 1
          : a.clientId < b.clientId
            ? -1
            : 1,
      );
      return reply<Page<SubscriptionItem>>(page(items, offset, limit));
    }
    default: {
      const routes = ctx.routes;
      if (resource !== undefined && routes !== undefined && Object.hasOwn(routes, resource)) {
        const body = await routes[resource]!({ method, path: parts.slice(1), query });
        if (body === undefined)
          throw new HttpError(404, 'NOT_FOUND', `no such endpoint: ${method} /api/v1/${parts.join('/')}`);
        return reply(body);
      }
      const extra = resource !== undefined && id === undefined ? ctx.resources?.[resource] : undefined;
      if (extra !== undefined && Object.hasOwn(ctx.resources ?? {}, resource as string)) {
        if (method !== 'GET')
          throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use GET on /api/v1/${resource}`);
        return reply(extra());
      }
      const known = [
        'info',
        'config',
        'stats',
        'clients',
        'blocklist',
        'publish',
        'retained',
        'subscriptions',
        'stream',
        'traces',
      ];
      if (resource !== undefined && known.includes(resource)) {
        throw new HttpError(
          405,
          'METHOD_NOT_ALLOWED',
          `${method} is not supported on /api/v1/${parts.join('/')}`,
        );
      }
      throw new HttpError(404, 'NOT_FOUND', `no such endpoint: /api/v1/${parts.join('/')}`);
    }
  }
}
