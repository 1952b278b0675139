import { AckByte } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { TickOutput } from '../src/output.js';

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

describe('TickOutput', () => {
  it('joins packets and acknowledgements into one write, in order', () => {
    const out = new TickOutput();
    out.add(bytes(3, 1));
    out.addAck(AckByte.puback, 0x0102);
    out.add(bytes(2, 2));
    expect(out.take()).toEqual(Buffer.from([1, 1, 1, 0x40, 2, 1, 2, 2, 2]));
  });

  it('keeps the order across ack buffers and packets kept by reference', () => {
    const out = new TickOutput();
    const expected: Buffer[] = [];
    const large = bytes(5000, 9);
    for (let i = 0; i < 300; i++) {
      const b = bytes(1 + (i % 200), i & 0xff);
      out.add(b);
      expected.push(b);
      if (i % 50 === 0) {
        out.add(large);
        expected.push(large);
      }
      if (i % 7 === 0) {
        out.addAck(AckByte.pubrel, i + 1);
        expected.push(Buffer.from([0x62, 2, (i + 1) >> 8, (i + 1) & 0xff]));
      }
    }
    expect(Buffer.from(out.take())).toEqual(Buffer.concat(expected));
  });

  it('hands a packet alone in its tick over as it is, small or large', () => {
    for (const n of [70, 10_000]) {
      const out = new TickOutput();
      const only = bytes(n, 3);
      out.add(only);
      expect(out.take()).toBe(only);
    }
  });

  it('keeps a packet that follows acknowledgements after them', () => {
    const out = new TickOutput();
    out.addAck(AckByte.puback, 9);
    out.add(bytes(2, 5));
    expect(out.take()).toEqual(Buffer.from([0x40, 2, 0, 9, 5, 5]));
  });

  it('gathers a first packet with an acknowledgement that follows it', () => {
    const out = new TickOutput();
    out.add(bytes(2, 5));
    out.addAck(AckByte.pubcomp, 1);
    expect(out.take()).toEqual(Buffer.from([5, 5, 0x70, 2, 0, 1]));
  });
});
