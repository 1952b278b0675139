/** Thrown when a backend answers something the hook cannot use; the fail mode then applies. */
export class HttpAuthError extends Error {
  readonly code = 'HTTP_AUTH_BAD_ANSWER';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HttpAuthError';
  }
}

/** Reads a response body as JSON, refusing more than `maxBytes` (counted as they arrive, not trusted from headers). */
export async function readJson(response: Response, maxBytes: number, url: string): Promise<unknown> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new HttpAuthError(`${url} answered ${declared} bytes (maxResponseBytes ${maxBytes})`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await response.body.cancel().catch(() => undefined);
        throw new HttpAuthError(`${url} answered more than ${maxBytes} bytes (maxResponseBytes)`);
      }
      chunks.push(chunk);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpAuthError(`${url} answered ${response.status} with a body that is not JSON`, {
      cause: error,
    });
  }
}
