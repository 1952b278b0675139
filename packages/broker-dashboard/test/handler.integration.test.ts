import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../scripts/build-app.js';
import { CONTENT_SECURITY_POLICY, dashboardHandler } from '../src/index.js';

/** A raw GET (fetch would decompress and hide content-encoding). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, path, headers, method }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      request.on('error', reject);
      request.end();
    },
  );
}

describe('dashboardHandler', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let script: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    const sizes = await buildApp(dir);
    script = sizes.find((s) => s.file.endsWith('.js'))!.file;
    const handler = dashboardHandler({ root: dir });
    server = createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end('not mine');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page with a strict CSP, checked on every load', async () => {
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const html = page.body.toString();
    expect(html).toContain(`src="${script}"`);
    // Nothing from another origin, nothing inline.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>|<style>|style="/);
  });

  it('serves hashed assets for a year, gzip-compressed when asked, with a working ETag', async () => {
    const plain = await get(port, `/${script}`);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zipped = await get(port, `/${script}`, { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    const again = await get(port, `/${script}`, { 'if-none-match': String(plain.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const head = await get(port, `/${script}`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(plain.body.length));
  });

  it('leaves other paths and methods to the caller or refuses them', async () => {
    expect((await get(port, '/api/v1/info')).body.toString()).toBe('not mine');
    expect((await get(port, '/assets/none.js')).status).toBe(404);
    expect((await get(port, '/', {}, 'POST')).status).toBe(405);
  });

  it('throws, naming the fix, when the page is not built', () => {
    expect(() => dashboardHandler({ root: join(dir, 'missing') })).toThrow(/not built/);
  });
});
