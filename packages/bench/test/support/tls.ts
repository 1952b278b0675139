import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  cleanup(): void;
}

/** A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, made by openssl. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pki-'));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=bench test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  );
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who}`,
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
    );
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      f(`${who}.crt`),
      ...(who === 'server' ? ['-extfile', f('server.ext')] : []),
    );
  }
  // Mosquitto started as root drops to its own user, which must be able to read these files.
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) chmodSync(f(name), 0o644);
  return {
    dir,
    caFile: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
