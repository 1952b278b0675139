import type {
  ApiErrorBody,
  BlockEntryBody,
  BlockRequest,
  ClientDetails,
  ClientSummary,
  ConfigResponse,
  DeleteRetainedResponse,
  InfoResponse,
  KickResponse,
  Page,
  PublishRequest,
  PublishResponse,
  RetainedItem,
  StatsResponse,
  SubscriptionItem,
} from '@x/broker-http/api-types';

/** A failed API call: the HTTP status and the server's error code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type Query = Record<string, string | number | boolean | undefined>;

function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** One server-sent event. */
export interface ServerEvent {
  event: string;
  data: string;
}

/**
 * The management API, typed by the server's own response types. Every call sends the bearer token;
 * streams are read with fetch (EventSource cannot send an Authorization header).
 */
export class Api {
  readonly #token: string;
  readonly #base: string;

  // Relative, so the page also works behind a proxy that serves it under a path prefix.
  constructor(token: string, base = 'api/v1') {
    this.#token = token;
    this.#base = base;
  }

  async #call<T>(method: string, path: string, query?: Query, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.#base}/${path}${queryString(query)}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await response.json().catch(() => undefined)) as unknown;
    if (!response.ok) {
      const error = (json as ApiErrorBody | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'HTTP_ERROR', error?.message ?? response.statusText);
    }
    return json as T;
  }

  info = () => this.#call<InfoResponse>('GET', 'info');
  config = () => this.#call<ConfigResponse>('GET', 'config');
  stats = () => this.#call<StatsResponse>('GET', 'stats');
  clients = (query: { search?: string; online?: boolean; offset?: number; limit?: number }) =>
    this.#call<Page<ClientSummary>>('GET', 'clients', query);
  client = (id: string) => this.#call<ClientDetails>('GET', `clients/${encodeURIComponent(id)}`);
  kick = (id: string) => this.#call<KickResponse>('POST', `clients/${encodeURIComponent(id)}/kick`);
  blocklist = () => this.#call<{ items: BlockEntryBody[] }>('GET', 'blocklist');
  block = (entry: BlockRequest) => this.#call<BlockEntryBody>('POST', 'blocklist', undefined, entry);
  unblock = (id: number) => this.#call<{ removed: number }>('DELETE', `blocklist/${id}`);
  publish = (request: PublishRequest) => this.#call<PublishResponse>('POST', 'publish', undefined, request);
  retained = (query: { filter?: string; contains?: string; offset?: number; limit?: number }) =>
    this.#call<Page<RetainedItem>>('GET', 'retained', query);
  deleteRetained = (topic: string) => this.#call<DeleteRetainedResponse>('DELETE', 'retained', { topic });
  subscriptions = (query: { clientId?: string; contains?: string; offset?: number; limit?: number }) =>
    this.#call<Page<SubscriptionItem>>('GET', 'subscriptions', query);

  /**
   * Reads a server-sent event stream until `signal` aborts or the server ends it; resolves then,
   * rejects with an {@link ApiError} when the server refuses it.
   */
  async stream(
    path: string,
    query: Query,
    onEvent: (event: ServerEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const response = await fetch(`${this.#base}/${path}${queryString(query)}`, {
      headers: { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' },
      signal,
    });
    if (!response.ok || !response.body) {
      const error = ((await response.json().catch(() => undefined)) as ApiErrorBody | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'HTTP_ERROR', error?.message ?? response.statusText);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        // Events end with a blank line; a partial one waits for the next chunk.
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) onEvent({ event, data: data.join('\n') });
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    } finally {
      reader.releaseLock();
    }
  }
}
