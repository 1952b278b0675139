import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';

/** Where and how to reach the broker. */
export interface BrokerAddress {
  transport: 'tcp' | 'tls' | 'ws' | 'wss';
  host: string;
  port: number;
  /** WebSocket path (default `/mqtt`). */
  path: string;
  /** The address as given, for reports. */
  url: string;
}

/** TLS settings for `tls` and `wss`. File paths are read once, when the options are resolved. */
export interface TlsOptions {
  /** PEM file of the CA that signed the broker's certificate. */
  caFile?: string;
  /** PEM client certificate, with `keyFile`, for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** Accept any broker certificate (`--insecure`, mqtt-stresser's `-skip-tls-verification`). */
  insecure?: boolean;
  /** Server name for SNI and verification; the host by default. */
  servername?: string;
}

const DEFAULT_PORTS = { tcp: 1883, tls: 8883, ws: 80, wss: 443 } as const;

/** The broker address forms `parseBroker` takes, for error messages. */
const ACCEPTED =
  'expected tcp://, mqtt://, ssl://, tls://, tcps://, mqtts://, ws:// or wss:// followed by host[:port], or :port';

/**
 * Parses a broker address the way mqtt-stresser does, plus the usual MQTT.js schemes:
 * `tcp://` `mqtt://`, `ssl://` `tls://` `tcps://` `mqtts://`, `ws://`, `wss://`; `:1883` means
 * 127.0.0.1:1883 and an address without a scheme is TCP. Throws a `TypeError` that names the
 * address and what is accepted.
 */
export function parseBroker(input: string): BrokerAddress {
  let text = input.trim();
  if (text.startsWith(':')) text = `127.0.0.1${text}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `tcp://${text}`;
  // Checked before URL parsing, which refuses ports above 65535 without saying so.
  const portText = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/:?#]*):([^/?#]*)/i.exec(text)?.[1];
  if (portText !== undefined && portText !== '') {
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) {
      throw new TypeError(`broker address "${input}": the port must be 1–65535, got "${portText}"`);
    }
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new TypeError(`broker address "${input}" is not an address (${ACCEPTED})`, { cause });
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const transport =
    scheme === 'tcp' || scheme === 'mqtt'
      ? 'tcp'
      : scheme === 'ssl' || scheme === 'tls' || scheme === 'tcps' || scheme === 'mqtts'
        ? 'tls'
        : scheme === 'ws' || scheme === 'wss'
          ? scheme
          : undefined;
  if (!transport) {
    throw new TypeError(`unsupported broker scheme "${scheme}" in "${input}" (${ACCEPTED})`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[transport];
  const path = url.pathname && url.pathname !== '/' ? url.pathname + url.search : '/mqtt';
  return { transport, host, port, path, url: input };
}

/** TLS material loaded from files, ready for `tls.connect`. */
export interface ResolvedTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

/** Reads the TLS files once, so a thousand connections do not read them a thousand times. */
export function resolveTls(options: TlsOptions = {}): ResolvedTls {
  if (Boolean(options.certFile) !== Boolean(options.keyFile)) {
    throw new TypeError('a client certificate and its key must be given together (--cert and --key)');
  }
  const out: ResolvedTls = { rejectUnauthorized: !options.insecure };
  if (options.caFile) out.ca = readPem(options.caFile, 'CA certificate (--cafile)');
  if (options.certFile) out.cert = readPem(options.certFile, 'client certificate (--cert)');
  if (options.keyFile) out.key = readPem(options.keyFile, 'client key (--key)');
  if (options.servername) out.servername = options.servername;
  return out;
}

/** Reads one TLS file; the error names what it was for and why it could not be read. */
function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new TypeError(`cannot read the ${what} "${file}": ${reason}`, { cause: error });
  }
}

/**
 * Opens the byte stream to the broker; resolves once it is connected (TLS and WebSocket included).
 * `localAddress` binds the client side to that source address: each source address has its own
 * ephemeral port range (about 28 000 ports on Linux), which bounds the connections one address can
 * hold to one broker port.
 */
export function openTransport(
  address: BrokerAddress,
  tls: ResolvedTls,
  timeoutMs: number,
  localAddress?: string,
): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let stream: Duplex | undefined;
    const timer = setTimeout(() => {
      fail(new Error(`connecting to ${address.url} timed out after ${timeoutMs} ms`));
      stream?.destroy();
    }, timeoutMs);
    const done = (s: Duplex) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.removeListener('error', fail);
      resolve(s);
    };
    function fail(error: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    }
    const servername = tls.servername ?? (isIp(address.host) ? undefined : address.host);
    if (address.transport === 'tcp') {
      const socket = netConnect({
        host: address.host,
        port: address.port,
        noDelay: true,
        ...(localAddress ? { localAddress } : {}),
      });
      stream = socket;
      socket.once('error', fail);
      socket.once('connect', () => done(socket));
    } else if (address.transport === 'tls') {
      const socket = tlsConnect({
        host: address.host,
        port: address.port,
        ...(localAddress ? { localAddress } : {}),
        ...tls,
        ...(servername ? { servername } : {}),
      });
      socket.setNoDelay(true);
      stream = socket;
      socket.once('error', fail);
      socket.once('secureConnect', () => done(socket));
    } else {
      const target = `${address.transport}://${formatHost(address.host)}:${address.port}${address.path}`;
      const ws = new WebSocket(target, ['mqtt'], {
        ...(address.transport === 'wss' ? { ...tls, ...(servername ? { servername } : {}) } : {}),
        perMessageDeflate: false,
        ...(localAddress ? { localAddress } : {}),
      });
      const duplex = createWebSocketStream(ws);
      stream = duplex;
      ws.once('error', fail);
      duplex.once('error', fail);
      ws.once('open', () => {
        ws.removeListener('error', fail);
        done(duplex);
      });
    }
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
