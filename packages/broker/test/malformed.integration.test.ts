import { invalidEntries } from '@x/packets/catalogue';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { brokerFixture } from './broker-fixture.js';

/**
 * Malformed packets and protocol errors (sections 2, 4.13 and the format rules of section 3): each
 * violation is sent byte by byte over a real socket and must cost the connection.
 */

const streamable = invalidEntries.filter(
  (e) => !e.prefix && !e.trailing && (e.maxPacketSize ?? 1024 * 1024) >= 1024 * 1024,
);

const citing = (clause: string) =>
  streamable.filter((e) => e.clause === clause || e.error?.clause === clause);
describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  const { b, open, rawOn } = brokerFixture({ maxPacketSize: 1024 * 1024 });
  const raw = (clientId: string, extra: object = {}, port = b.port) => rawOn(port, clientId, extra);

  /** Sends a malformed catalogue entry after (or instead of, for a CONNECT) a valid CONNECT. */
  async function sendMalformed(bytes: Uint8Array, isConnect: boolean): Promise<RawClient> {
    const c = isConnect ? await RawClient.open(b.port, 5) : await raw('');
    open.push(c);
    c.sendBytes(bytes);
    await c.waitClosed();
    return c;
  }
  // Format rules on client packets that the server enforces by treating a violation as malformed
  // or as a protocol error ([MQTT-3.1.4-1] [MQTT-4.13.1-1]), each with the catalogue entries citing it.
  it.each([
    ['MQTT-3.1.2-11', 'Will QoS not 0 with Will Flag 0'],
    ['MQTT-3.1.2-12', 'Will QoS 3'],
    ['MQTT-3.1.2-13', 'Will Retain with Will Flag 0'],
    ['MQTT-3.3.2-8', 'Topic Alias 0'],
    ['MQTT-3.8.1-1', 'SUBSCRIBE flags other than 0010'],
    ['MQTT-3.8.3-2', 'SUBSCRIBE without a topic filter'],
    ['MQTT-3.8.3-5', 'reserved subscription option bits set'],
    ['MQTT-3.10.1-1', 'UNSUBSCRIBE flags other than 0010'],
    ['MQTT-3.10.3-2', 'UNSUBSCRIBE without a topic filter'],
    ['MQTT-4.7.3-1', 'empty topic name or filter'],
  ])('%s: %s is refused and the connection closed (v5: with the reason code first)', async (clause) => {
    const entries = citing(clause).filter((e) => e.protocolVersion === 5);
    expect(entries.length, `catalogue entries citing ${clause}`).toBeGreaterThan(0);
    for (const entry of entries) {
      const isConnect = entry.bytes[0]! >> 4 === 1;
      const c = await sendMalformed(entry.bytes, isConnect);
      const reply = c.received.find((p) => p.type === (isConnect ? 'connack' : 'disconnect'));
      if (isConnect && reply === undefined) continue; // closing without CONNACK is allowed
      expect(reply, entry.name).toBeDefined();
      expect((reply as { reasonCode: number }).reasonCode, entry.name).toBe(entry.error!.reasonCode);
    }
  });

  it('MQTT-3.6.1-1: a PUBREL with flags other than 0010 is malformed (DISCONNECT 0x81, close)', async () => {
    const c = await sendMalformed(new Uint8Array([0x60, 0x02, 0x00, 0x01]), false);
    expect(c.received.map((p) => p.type)).toEqual(['disconnect']);
    expect((c.received[0] as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  it('MQTT-3.14.1-1: a DISCONNECT with reserved flag bits set is malformed (DISCONNECT 0x81, close)', async () => {
    const c = await sendMalformed(new Uint8Array([0xe1, 0x00]), false);
    expect(c.received.map((p) => p.type)).toEqual(['disconnect']);
    expect((c.received[0] as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  it('MQTT-3.15.1-1: an AUTH with reserved flag bits set is malformed (DISCONNECT 0x81, close)', async () => {
    const c = await sendMalformed(new Uint8Array([0xf1, 0x00]), false);
    expect(c.received.map((p) => p.type)).toEqual(['disconnect']);
    expect((c.received[0] as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  it('MQTT-4.7.0-1 MQTT-3.3.2-1: a topic name with a wildcard or without valid UTF-8 is refused', async () => {
    // PUBLISH, topic "a/+", no properties (our encoder refuses to write it)
    const wild = await sendMalformed(new Uint8Array([0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x00]), false);
    expect((wild.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(
      0x90,
    );
    // PUBLISH, topic "a" followed by 0xFF (not UTF-8), no properties
    const bad = await sendMalformed(new Uint8Array([0x30, 0x05, 0x00, 0x02, 0x61, 0xff, 0x00]), false);
    expect((bad.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(
      0x81,
    );
  });

  it('MQTT-4.7.3-2: a topic name containing U+0000 is malformed', async () => {
    const c = await sendMalformed(new Uint8Array([0x30, 0x06, 0x00, 0x03, 0x61, 0x00, 0x62, 0x00]), false);
    expect((c.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  /** A v5 CONNECT: flags byte and payload bytes as given, Keep Alive 0, no properties. */
  const rawConnect = (flags: number, payload: number[]) => {
    const body = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, flags, 0x00, 0x00, 0x00, ...payload];
    return new Uint8Array([0x10, body.length, ...body]);
  };
  const str = (...bytes: number[]) => [0x00, bytes.length, ...bytes];

  it.each([
    [
      'MQTT-3.1.2-9 MQTT-3.1.3-1',
      'Will Flag 1 without a Will Topic and Payload',
      rawConnect(0x06, [...str(0x61), 0x00]),
    ],
    [
      'MQTT-3.1.2-16',
      'a User Name without the User Name Flag',
      rawConnect(0x02, [...str(0x61), ...str(0x75)]),
    ],
    ['MQTT-3.1.2-17', 'User Name Flag 1 without a User Name', rawConnect(0x82, str(0x61))],
    [
      'MQTT-3.1.2-18',
      'a Password without the Password Flag',
      rawConnect(0x82, [...str(0x61), ...str(0x75), ...str(0x70)]),
    ],
    ['MQTT-3.1.2-19', 'Password Flag 1 without a Password', rawConnect(0xc2, [...str(0x61), ...str(0x75)])],
    ['MQTT-3.1.3-3', 'no Client Identifier at all', rawConnect(0x02, [])],
    ['MQTT-3.1.3-4', 'a Client Identifier that is not UTF-8', rawConnect(0x02, str(0x61, 0xff))],
    [
      'MQTT-3.1.3-11',
      'a Will Topic that is not UTF-8',
      rawConnect(0x06, [...str(0x61), 0x00, ...str(0x61, 0xff), ...str(0x78)]),
    ],
    ['MQTT-3.1.3-12', 'a User Name that is not UTF-8', rawConnect(0x82, [...str(0x61), ...str(0x75, 0xc0)])],
  ])('%s: a CONNECT with %s is refused and the connection closed', async (_clause, _what, bytes) => {
    const c = await sendMalformed(bytes, true);
    expect(c.received.map((p) => p.type)).not.toContain('disconnect');
    const connack = c.received.find((p) => p.type === 'connack') as { reasonCode: number } | undefined;
    if (connack !== undefined) expect(connack.reasonCode).toBeGreaterThanOrEqual(0x80);
  });

  it.each([
    // SUBSCRIBE id 1, no properties, filter "a\xff", options 0
    ['MQTT-3.8.3-1', 'SUBSCRIBE filter', [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0xff, 0x00], 0x81],
    // UNSUBSCRIBE id 1, no properties, filter "a\xff"
    ['MQTT-3.10.3-1', 'UNSUBSCRIBE filter', [0xa2, 0x07, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0xff], 0x81],
    // PUBLISH "t", Content Type "a\xff"
    [
      'MQTT-3.3.2-19',
      'Content Type',
      [0x30, 0x09, 0x00, 0x01, 0x74, 0x05, 0x03, 0x00, 0x02, 0x61, 0xff],
      0x81,
    ],
    // PUBLISH "t", Response Topic "a\xff"
    [
      'MQTT-3.3.2-13',
      'Response Topic',
      [0x30, 0x09, 0x00, 0x01, 0x74, 0x05, 0x08, 0x00, 0x02, 0x61, 0xff],
      0x81,
    ],
  ])(
    '%s: a %s that is not UTF-8 is malformed (DISCONNECT 0x81, close)',
    async (_clause, _what, bytes, code) => {
      const c = await sendMalformed(new Uint8Array(bytes), false);
      expect((c.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(
        code,
      );
    },
  );

  it('MQTT-3.3.2-14: a Response Topic with a wildcard is a protocol error (DISCONNECT 0x82, close)', async () => {
    // PUBLISH "t", Response Topic "a/#"
    const bytes = [0x30, 0x0a, 0x00, 0x01, 0x74, 0x06, 0x08, 0x00, 0x03, 0x61, 0x2f, 0x23];
    const c = await sendMalformed(new Uint8Array(bytes), false);
    const d = c.received.find((p) => p.type === 'disconnect') as { reasonCode: number };
    expect(d.reasonCode).toBe(0x82);
  });
});
