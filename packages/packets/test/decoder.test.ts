import { describe, expect, it } from 'vitest';
import { Decoder, encode, MqttProtocolError, type Packet, type PublishPacket } from '../src/index.js';
import { samplePackets } from './samples.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function stream(v: 3 | 4 | 5): { bytes: Buffer; packets: Packet[] } {
  const packets = samplePackets(v);
  // A server-side decoder wants the CONNECT first.
  return { bytes: Buffer.concat(packets.map((p) => encode(p, v))), packets };
}

describe('Decoder', () => {
  it.each([3, 4, 5] as const)('decodes level %i one byte at a time', (v) => {
    const { bytes, packets } = stream(v);
    const decoder = new Decoder();
    const out: Packet[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...decoder.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual(packets);
    expect(decoder.protocolVersion).toBe(v);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it.each([3, 4, 5] as const)('decodes level %i from one chunk and from every split', (v) => {
    const { bytes, packets } = stream(v);
    expect(new Decoder().push(bytes)).toEqual(packets);
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new Decoder();
      const out = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(out).toEqual(packets);
    }
  });

  it('follows the level of the CONNECT: a 2-byte PUBACK is v3, v5 reads reason codes', () => {
    const v4 = new Decoder();
    v4.push(encode({ type: 'connect', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 }, 4));
    expect(() => v4.push(hex('40 03 0001 10'))).toThrow(MqttProtocolError);
    const v5 = new Decoder();
    v5.push(encode({ type: 'connect', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 0 }, 5));
    expect(v5.push(hex('40 03 0001 10'))).toEqual([{ type: 'puback', packetId: 1, reasonCode: 0x10 }]);
  });

  it('wants a CONNECT first when no level is given [MQTT-3.1.0-1]', () => {
    const decoder = new Decoder();
    let error: unknown;
    try {
      decoder.push(hex('c0 00'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MqttProtocolError);
    expect((error as MqttProtocolError).code).toBe('EXPECTED_CONNECT');
    expect((error as MqttProtocolError).clause).toBe('MQTT-3.1.0-1');
  });

  it('reports the level of a CONNECT that fails after its level was read', () => {
    const decoder = new Decoder();
    // v5 CONNECT whose properties hold a topic alias, which CONNECT may not carry
    const bytes = hex('10 10 0004 4d515454 05 02 003c 03 230001 0001 63');
    let error: MqttProtocolError | undefined;
    try {
      decoder.push(bytes);
    } catch (e) {
      error = e as MqttProtocolError;
    }
    expect(error?.code).toBe('PROPERTY_NOT_ALLOWED');
    expect(error?.protocolVersion).toBe(5);
  });

  it('rejects a packet above maxPacketSize from its header alone', () => {
    const decoder = new Decoder({ protocolVersion: 4, maxPacketSize: 100 });
    expect(decoder.push(encode({ type: 'pingreq' }, 4))).toHaveLength(1);
    // 0x30, Remaining Length 200 (2 bytes): 203 bytes in all, and not one body byte sent
    let error: MqttProtocolError | undefined;
    try {
      decoder.push(hex('30 c8 01'));
    } catch (e) {
      error = e as MqttProtocolError;
    }
    expect(error?.reasonCode).toBe(0x95);
    expect(error?.code).toBe('PACKET_TOO_LARGE');
    expect(decoder.bufferedBytes).toBe(0);
    // the header split over two chunks is checked the same way
    const split = new Decoder({ protocolVersion: 4, maxPacketSize: 100 });
    expect(split.push(hex('30 c8'))).toEqual([]);
    expect(() => split.push(hex('01'))).toThrow(/maximum packet size 100/);
  });

  it('accepts a packet of exactly maxPacketSize', () => {
    const packet: Packet = {
      type: 'publish',
      topic: 't',
      payload: Buffer.alloc(95),
      qos: 0,
      retain: false,
      dup: false,
    };
    const bytes = encode(packet, 4);
    expect(bytes.length).toBe(100);
    expect(new Decoder({ protocolVersion: 4, maxPacketSize: 100 }).push(bytes)).toHaveLength(1);
  });

  it('keeps only the partial packet between chunks and copies it', () => {
    const decoder = new Decoder({ protocolVersion: 4 });
    const first = hex('30 05 0001 61 68');
    const chunk = Buffer.from(first);
    expect(decoder.push(chunk)).toEqual([]);
    expect(decoder.bufferedBytes).toBe(first.length);
    chunk.fill(0); // the caller reuses its buffer: the decoder copied what it kept
    const [packet] = decoder.push(hex('69'));
    expect(packet).toEqual({
      type: 'publish',
      topic: 'a',
      payload: Buffer.from('hi'),
      qos: 0,
      retain: false,
      dup: false,
    });
  });

  it('returns payloads as views into a chunk that holds the whole packet', () => {
    const decoder = new Decoder({ protocolVersion: 4 });
    const chunk = hex('30 05 0001 61 6869 30 05 0001 62 6a6b');
    const packets = decoder.push(chunk) as PublishPacket[];
    expect(packets).toHaveLength(2);
    for (const p of packets) expect(p.payload.buffer).toBe(chunk.buffer);
  });

  it('assembles a large packet from many chunks', () => {
    const payload = Buffer.alloc(200_000, 0x5a);
    const bytes = encode({ type: 'publish', topic: 'big', payload, qos: 0, retain: false, dup: false }, 5);
    const decoder = new Decoder({ protocolVersion: 5 });
    const out: Packet[] = [];
    for (let i = 0; i < bytes.length; i += 1000) out.push(...decoder.push(bytes.subarray(i, i + 1000)));
    expect(out).toHaveLength(1);
    expect(Buffer.from((out[0] as PublishPacket).payload).equals(payload)).toBe(true);
  });

  it('fails for good after an error', () => {
    const decoder = new Decoder({ protocolVersion: 4 });
    expect(() => decoder.push(hex('00 00'))).toThrow(MqttProtocolError);
    expect(() => decoder.push(hex('c0 00'))).toThrow(/reserved/);
  });

  it('rejects a bad Remaining Length early, before its body', () => {
    const decoder = new Decoder({ protocolVersion: 4 });
    expect(() => decoder.push(hex('30 ff ff ff ff'))).toThrow(/longer than 4 bytes/);
    const reserved = new Decoder({ protocolVersion: 4 });
    expect(() => reserved.push(hex('f0'))).toThrow(/reserved/);
  });

  it('accepts a Uint8Array that is not a Buffer', () => {
    const decoder = new Decoder({ protocolVersion: 4 });
    expect(decoder.push(new Uint8Array([0xd0, 0x00, 0xc0]))).toEqual([{ type: 'pingresp' }]);
    expect(decoder.push(new Uint8Array([0x00]))).toEqual([{ type: 'pingreq' }]);
  });

  it('validates its options', () => {
    expect(() => new Decoder({ protocolVersion: 6 as 5 })).toThrow(RangeError);
    expect(() => new Decoder({ maxPacketSize: 0 })).toThrow(RangeError);
  });
});

describe('Decoder: packets before a protocol error', () => {
  it('keeps the whole packets that preceded the bad bytes in the same chunk on error.packetsBefore', () => {
    const decoder = new Decoder({ protocolVersion: 4 });
    const publish: PublishPacket = {
      type: 'publish',
      topic: 'a/b',
      payload: Buffer.from('kept'),
      qos: 0,
      retain: false,
      dup: false,
    };
    // A PUBLISH, then a PINGREQ with a reserved flag set [MQTT-2.1.3-1].
    const chunk = Buffer.concat([encode(publish, 4), Buffer.from([0xc1, 0x00])]);
    let caught: unknown;
    try {
      decoder.push(chunk);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MqttProtocolError);
    const error = caught as MqttProtocolError;
    expect(error.reasonCode).toBe(0x81);
    expect(error.packetsBefore).toHaveLength(1);
    expect(error.packetsBefore[0]).toMatchObject({ type: 'publish', topic: 'a/b' });
    // The same error again on a later push, without handing the packet out twice.
    expect(() => decoder.push(Buffer.from([0xc0, 0x00]))).toThrow(error);
    expect(error.packetsBefore).toHaveLength(0);
  });
});
