import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `pnpm build` puts the page and its assets (the same from `src/` and from `dist/`). */
export const assetsDir: string = fileURLToPath(new URL('../dist/public/', import.meta.url));

/** Options of {@link dashboardHandler}. */
export interface DashboardOptions {
  /** Directory of the built page. Default {@link assetsDir}. */
  root?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * Everything the page loads comes from this origin, and nothing runs that is not one of its own
 * files: no inline script or style, no eval, no framing. The API answers on the same origin.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
  cacheControl: string;
}

function load(root: string, name: string, immutable: boolean): Asset {
  const body = readFileSync(join(root, name));
  const type = TYPES[extname(name)] ?? 'application/octet-stream';
  const gzip = body.length > 1024 && !type.startsWith('image/') ? gzipSync(body, { level: 9 }) : undefined;
  return {
    type,
    body,
    gzip,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    // Asset names carry a hash of their content, so a browser keeps them for good; the page itself
    // is checked every time, so a new build is seen at once.
    cacheControl: immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
}

/**
 * A request handler serving the dashboard: `/` (the page) and `/assets/…` (scripts, styles, icon),
 * from memory, gzip-compressed when the browser accepts it, with a strict Content-Security-Policy.
 * Returns false for any other path, so the caller answers it. Give it to `HttpListener` as its
 * `dashboard` option.
 *
 * Throws when the page was not built (`pnpm --filter @x/broker-dashboard build`).
 */
export function dashboardHandler(
  options: DashboardOptions = {},
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const root = options.root ?? assetsDir;
  if (!existsSync(join(root, 'index.html'))) {
    throw new Error(`the dashboard is not built (no ${join(root, 'index.html')}): build @x/broker-dashboard`);
  }
  // Each file is read (and compressed) when first asked for: a broker whose dashboard nobody opens
  // keeps none of it in memory.
  const names = new Map<string, [name: string, immutable: boolean]>([
    ['/', ['index.html', false]],
    ['/index.html', ['index.html', false]],
  ]);
  for (const name of readdirSync(join(root, 'assets')))
    names.set(`/assets/${name}`, [join('assets', name), true]);
  const files = new Map<string, Asset>();
  const assetAt = (path: string): Asset | undefined => {
    const known = names.get(path);
    if (!known) return undefined;
    const [name, immutable] = known;
    let asset = files.get(name);
    if (!asset) {
      asset = load(root, name, immutable);
      files.set(name, asset);
    }
    return asset;
  };
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const asset = assetAt(path);
    if (!asset) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET');
      return true;
    }
    const headers: Record<string, string | number> = {
      ...SECURITY_HEADERS,
      'content-type': asset.type,
      'cache-control': asset.cacheControl,
      etag: asset.etag,
      vary: 'accept-encoding',
    };
    if (request.headers['if-none-match'] === asset.etag) {
      response.writeHead(304, headers).end();
      return true;
    }
    const gzip = asset.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip! : asset.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = body.length;
    response.writeHead(200, headers);
    response.end(request.method === 'HEAD' ? undefined : body);
    return true;
  };
}
