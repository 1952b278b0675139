import { describe, expect, it } from 'vitest';
import { validEntries } from '../src/catalogue/index.js';
import {
  decode,
  encode,
  FrameReader,
  MqttProtocolError,
  NEED_MORE,
  readVbi,
  VBI_NOT_MINIMAL,
  VBI_TOO_LONG,
  vbiSize,
  writeVbi,
} from '../src/index.js';

interface Seen {
  first: number;
  frame: Buffer;
  bodyStart: number;
}

function reader(seen: Seen[], maxPacketSize?: number): FrameReader {
  return new FrameReader(
    (first, buf, start, bodyStart, end) => {
      // The frame lies in the pushed chunk or a joining buffer: keep a copy.
      seen.push({ first, frame: Buffer.from(buf.subarray(start, end)), bodyStart: bodyStart - start });
    },
    { maxPacketSize },
  );
}

/** The frames seen, as hex, so a mismatch shows where (vitest compares large Buffers slowly). */
const hexOf = (seen: readonly Seen[]): string[] => seen.map((s) => s.frame.toString('hex'));
const hexAll = (bufs: readonly Buffer[]): string[] => bufs.map((b) => b.toString('hex'));

function push(r: FrameReader, bytes: Buffer, size: number): void {
  for (let i = 0; i < bytes.length; i += size) r.push(bytes.subarray(i, i + size));
}

// Every whole, valid catalogue packet, back to back: the frames must come out as they went in.
const entries = validEntries.filter((e) => !e.prefix && !e.trailing);
const frames = entries.map((e) => Buffer.from(e.bytes));
const stream = Buffer.concat(frames);

describe('FrameReader', () => {
  it('hands out every catalogue packet as one frame, with its first byte and body start', () => {
    const seen: Seen[] = [];
    const r = reader(seen);
    r.push(stream);
    expect(hexOf(seen)).toEqual(hexAll(frames));
    for (const [i, s] of seen.entries()) {
      expect(s.first).toBe(frames[i]![0]);
      const rl = s.frame.length - s.bodyStart;
      expect(s.bodyStart).toBe(1 + vbiSize(rl));
      // The frame is the packet: decoding it gives the catalogue's packet.
      const entry = entries[i]!;
      expect(decode(s.frame, entry.protocolVersion)).toEqual(entry.packet);
    }
    expect(r.bufferedBytes).toBe(0);
  });

  it('gives the same frames whatever the chunking', () => {
    for (const size of [1, 2, 3, 4, 5, 7, 64, 1000]) {
      const seen: Seen[] = [];
      const r = reader(seen);
      push(r, stream, size);
      expect(hexOf(seen)).toEqual(hexAll(frames));
      expect(r.bufferedBytes).toBe(0);
    }
  });

  it('gives the same frames for each catalogue packet split at every byte', () => {
    for (const bytes of frames) {
      // Every byte of the small packets; around the header and the end of the few 16-64 KiB ones.
      const n = bytes.length;
      const cuts =
        n <= 1024 ? Array.from({ length: n - 1 }, (_, i) => i + 1) : [1, 2, 3, 4, 5, 6, n >> 1, n - 2, n - 1];
      for (const cut of cuts) {
        const seen: Seen[] = [];
        const r = reader(seen);
        r.push(bytes.subarray(0, cut));
        expect(seen).toHaveLength(0);
        expect(r.bufferedBytes).toBe(cut);
        r.push(bytes.subarray(cut));
        expect(hexOf(seen)).toEqual(hexAll([bytes]));
        expect(r.bufferedBytes).toBe(0);
      }
    }
  });

  it('joins a large PUBLISH split over many chunks and reads what follows it in place', () => {
    const big = encode(
      { type: 'publish', topic: 't', payload: Buffer.alloc(200_000, 1), qos: 0, retain: false, dup: false },
      4,
    );
    const ack = encode({ type: 'puback', packetId: 9 }, 4);
    const bytes = Buffer.concat([big, ack, ack]);
    const seen: Seen[] = [];
    const r = reader(seen);
    push(r, bytes, 65_536);
    expect(hexOf(seen)).toEqual(hexAll([big, ack, ack]));
    expect(seen[0]!.bodyStart).toBe(4);
  });

  it('passes a frame inside one chunk as offsets into it', () => {
    const chunk = Buffer.concat([
      encode({ type: 'pingresp' }, 4),
      encode({ type: 'puback', packetId: 1 }, 4),
    ]);
    const calls: unknown[][] = [];
    new FrameReader((first, buf, start, bodyStart, end) =>
      calls.push([first, buf === chunk, start, bodyStart, end]),
    ).push(chunk);
    expect(calls).toEqual([
      [0xd0, true, 0, 2, 2],
      [0x40, true, 2, 4, 6],
    ]);
  });

  it('rejects a Remaining Length over 4 bytes or not in its shortest form', () => {
    const tooLong = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(() => reader([]).push(tooLong)).toThrow(
      expect.objectContaining({ code: 'MALFORMED_VARIABLE_BYTE_INTEGER', offset: 4 }),
    );
    const notMinimal = Buffer.from([0x30, 0x83, 0x80, 0x00, 0x00, 0x01, 0x74, 0x61]);
    expect(() => reader([]).push(notMinimal)).toThrow(
      expect.objectContaining({ code: 'NON_MINIMAL_VARIABLE_BYTE_INTEGER', offset: 3 }),
    );
    // Also when the fixed header itself is split across chunks.
    const r = reader([]);
    r.push(tooLong.subarray(0, 2));
    expect(() => r.push(tooLong.subarray(2))).toThrow(MqttProtocolError);
  });

  it('rejects a frame above maxPacketSize from its fixed header, before buffering its body', () => {
    const big = encode(
      { type: 'publish', topic: 't', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false },
      4,
    );
    expect(() => reader([], 100).push(big.subarray(0, 3))).toThrow(
      expect.objectContaining({ code: 'PACKET_TOO_LARGE', reasonCode: 0x95 }),
    );
    const split = reader([], 100);
    split.push(big.subarray(0, 1));
    expect(() => split.push(big.subarray(1, 3))).toThrow(
      expect.objectContaining({ code: 'PACKET_TOO_LARGE' }),
    );
    // A frame of exactly the limit passes.
    const seen: Seen[] = [];
    reader(seen, big.length).push(big);
    expect(seen).toHaveLength(1);
    expect(() => new FrameReader(() => {}, { maxPacketSize: 1 })).toThrow(RangeError);
  });
});

describe('readVbi', () => {
  it('reads back what writeVbi wrote, at every size boundary', () => {
    for (const n of [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455]) {
      const buf = Buffer.alloc(6, 0xee);
      const end = writeVbi(buf, 1, n);
      expect(end - 1).toBe(vbiSize(n));
      expect(readVbi(buf, 1, end)).toBe(n);
      // One byte short of the end is not enough.
      expect(readVbi(buf, 1, end - 1)).toBe(NEED_MORE);
    }
  });

  it('tells a too long and a non-minimal integer apart', () => {
    expect(readVbi(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), 0, 5)).toBe(VBI_TOO_LONG);
    expect(readVbi(Buffer.from([0x80, 0x00]), 0, 2)).toBe(VBI_NOT_MINIMAL);
    expect(readVbi(Buffer.from([0xff, 0x80, 0x00]), 0, 3)).toBe(VBI_NOT_MINIMAL);
    // A single 0x00 is the shortest form of 0.
    expect(readVbi(Buffer.from([0x00]), 0, 1)).toBe(0);
  });
});
