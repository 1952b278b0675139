import type { IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP failure with its status and a stable machine-readable code, sent as a JSON body. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

/** Sends a JSON body. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
  );
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

/** Sends `{ "error": { "code", "message" } }`. */
export function sendError(response: ServerResponse, error: HttpError): void {
  sendJson(response, error.status, { error: { code: error.code, message: error.message } });
}

/** Reads a JSON request body of at most `limit` bytes. */
export async function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  }
  const tooLarge = () => new HttpError(413, 'BODY_TOO_LARGE', `the body exceeds ${limit} bytes`);
  if (Number(request.headers['content-length'] ?? 0) > limit) {
    // Let the upload drain into nothing, so the client can read the answer instead of a reset.
    request.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    // Keep reading (and dropping) past the limit for the same reason; nothing more is stored.
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw tooLarge();
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Paging parameters `offset` (default 0) and `limit` (default 100, at most 1000). */
export function paging(query: URLSearchParams): { offset: number; limit: number } {
  const offset = integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = integerParam(query, 'limit', 100, 1, 1000);
  return { offset, limit };
}

export function integerParam(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HttpError(400, 'INVALID_PARAMETER', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** One page of `items` with the total, as every list endpoint answers. */
export function page<T>(
  items: T[],
  offset: number,
  limit: number,
): { total: number; offset: number; limit: number; items: T[] } {
  return { total: items.length, offset, limit, items: items.slice(offset, offset + limit) };
}
