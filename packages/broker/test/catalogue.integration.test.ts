import { connect as netConnect } from 'node:net';
import { encode, type ProtocolVersion } from '@x/packets';
import { type CatalogueEntry, catalogue, invalidEntries } from '@x/packets/catalogue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v3ReturnCode } from '../src/client.js';
import { startTestBroker, type TestBroker } from './helpers.js';

/**
 * Every malformed catalogue entry, sent raw to the broker, gets the reaction the spec asks for:
 * v5 — DISCONNECT with the entry's reason code, then close (a bad CONNECT: CONNACK with the code);
 * v3.1/3.1.1 — the connection is closed with nothing sent (a bad CONNECT may get CONNACK 0x01).
 * Entries that are not errors on a stream are left out: a valid prefix (the broker waits for more),
 * trailing bytes (the next packet), and size limits below the size of a CONNECT.
 */

interface Outcome {
  /** Bytes received after the CONNACK of our own valid CONNECT (or all bytes for a CONNECT entry). */
  bytes: number[];
  closed: boolean;
}

const CONNECT_TYPE = 1;
const SERVER_ONLY = new Set([2, 9, 11, 13]); // CONNACK, SUBACK, UNSUBACK, PINGRESP

async function exchange(port: number, entry: CatalogueEntry): Promise<Outcome> {
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  let received: number[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => received.push(...chunk));
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('close', () => {
    closed = true;
  });
  const isConnect = entry.bytes[0]! >> 4 === CONNECT_TYPE;
  if (!isConnect) {
    const v = entry.protocolVersion;
    socket.write(encode({ type: 'connect', protocolVersion: v, clientId: '', clean: true, keepalive: 0 }, v));
    const deadline = Date.now() + 2000;
    while (received.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (received[0] !== 0x20) throw new Error(`no CONNACK for ${entry.name}`);
    // Skip our CONNACK (v5 carries properties: use its Remaining Length).
    received = received.slice(2 + received[1]!);
  }
  socket.write(entry.bytes);
  await Promise.race([closedPromise, new Promise((r) => setTimeout(r, 2000))]);
  socket.destroy();
  return { bytes: received, closed };
}

function expectReaction(
  entry: CatalogueEntry,
  outcome: Outcome,
  version: ProtocolVersion,
  code: number,
): void {
  const where = `${entry.name}: ${entry.purpose}`;
  expect(outcome.closed, `${where} — connection closed`).toBe(true);
  const isConnect = entry.bytes[0]! >> 4 === CONNECT_TYPE;
  const b = outcome.bytes;
  if (isConnect) {
    if (b.length === 0) return; // closing without CONNACK is allowed for a malformed CONNECT
    expect(b[0], `${where} — only a CONNACK`).toBe(0x20);
    const allowed = version === 5 ? [code, v3ReturnCode(code)] : [v3ReturnCode(code)];
    expect(allowed, `${where} — CONNACK code ${b[3]}`).toContain(b[3]);
    return;
  }
  if (version === 5) {
    expect(b[0], `${where} — DISCONNECT first`).toBe(0xe0);
    expect(b[2], `${where} — reason code`).toBe(code);
    expect(b.length, `${where} — nothing after DISCONNECT`).toBe(2 + b[1]!);
  } else {
    expect(b, `${where} — v3: closed without a reply`).toEqual([]);
  }
}

const streamable = invalidEntries.filter(
  (e) => !e.prefix && !e.trailing && (e.maxPacketSize ?? 1024 * 1024) >= 1024 * 1024,
);
const misdirected = catalogue.filter((e) => e.packet !== undefined && SERVER_ONLY.has(e.bytes[0]! >> 4));

describe('catalogue: malformed packets sent raw get the right reaction', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({ maxPacketSize: 1024 * 1024 });
  });
  afterAll(() => b.close());

  it(`has entries to send (${streamable.length} malformed, ${misdirected.length} server-to-client)`, () => {
    expect(streamable.length).toBeGreaterThan(200);
    expect(misdirected.length).toBeGreaterThan(5);
  });

  it('MQTT-4.13.1-1 MQTT-3.1.4-1 MQTT-3.14.4-1 MQTT-3.14.4-2: every malformed entry closes the connection (v5: DISCONNECT with its reason code first, nothing after it)', async () => {
    const failures: string[] = [];
    const queue = [...streamable];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        const outcome = await exchange(b.port, entry);
        try {
          expectReaction(entry, outcome, entry.protocolVersion, entry.error!.reasonCode);
        } catch (error) {
          failures.push((error as Error).message.split('\n')[0]!);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toEqual([]);
  }, 60_000);

  it('server-to-client packets sent by a client are a protocol error (v5: DISCONNECT 0x82)', async () => {
    const failures: string[] = [];
    for (const entry of misdirected) {
      const outcome = await exchange(b.port, entry);
      try {
        expectReaction(entry, outcome, entry.protocolVersion, 0x82);
      } catch (error) {
        failures.push((error as Error).message.split('\n')[0]!);
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('leaks nothing: every connection is gone afterwards', async () => {
    const deadline = Date.now() + 3000;
    while (b.broker.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(b.broker.connectionCount).toBe(0);
    expect(b.broker.sessions.size).toBe(0); // clean sessions ended with their connections
    expect(b.broker.subscriptionCount).toBe(0);
  });
});
