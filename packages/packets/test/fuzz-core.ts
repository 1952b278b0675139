import { catalogue } from '../src/catalogue/index.js';
import {
  Decoder,
  decode,
  encode,
  MqttProtocolError,
  type Packet,
  type ProtocolVersion,
} from '../src/index.js';

/** A small seeded PRNG (xorshift32), so a failing run can be replayed from its seed. */
export class Random {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  int(n: number): number {
    return this.next() % n;
  }
}

const corpus = catalogue.map((e) => Buffer.from(e.bytes)).filter((b) => b.length <= 4096);

/** Random bytes, or catalogue bytes with flips, insertions, deletions, cuts and splices. */
export function makeInput(rnd: Random): Buffer {
  const kind = rnd.int(10);
  if (kind === 0) {
    const out = Buffer.allocUnsafe(rnd.int(64));
    for (let i = 0; i < out.length; i++) out[i] = rnd.int(256);
    return out;
  }
  const parts: Buffer[] = [];
  const count = 1 + rnd.int(3);
  for (let i = 0; i < count; i++) parts.push(corpus[rnd.int(corpus.length)]!);
  const out = [...Buffer.concat(parts)];
  const mutations = rnd.int(4);
  for (let m = 0; m < mutations && out.length > 0; m++) {
    const at = rnd.int(out.length);
    switch (rnd.int(5)) {
      case 0:
        out[at] = rnd.int(256);
        break;
      case 1:
        out[at] = out[at]! ^ (1 << rnd.int(8));
        break;
      case 2:
        out.splice(at, 0, rnd.int(256));
        break;
      case 3:
        out.splice(at, 1 + rnd.int(4));
        break;
      default:
        out.length = at;
    }
  }
  return Buffer.from(out);
}

/**
 * Feeds `input` through a Decoder in random chunks. Throws (a plain Error) when anything but an
 * MqttProtocolError escapes, or when a decoded packet does not survive encode → decode unchanged.
 */
export function fuzzOne(rnd: Random, input: Buffer): 'ok' | 'error' {
  const mode = rnd.int(4);
  const decoder = new Decoder(
    mode === 0 ? {} : { protocolVersion: (mode + 2) as ProtocolVersion, maxPacketSize: 2 + rnd.int(8192) },
  );
  let pos = 0;
  try {
    while (pos < input.length) {
      const size = 1 + rnd.int(rnd.int(2) === 0 ? 8 : 512);
      // Each packet is at the level in force when it was read; a CONNECT changes it from then on.
      let level = decoder.protocolVersion;
      const packets = decoder.push(input.subarray(pos, pos + size));
      pos += size;
      for (const p of packets) {
        if (p.type === 'connect') level = p.protocolVersion;
        checkPacket(p, level!);
      }
    }
  } catch (error) {
    if (error instanceof MqttProtocolError) {
      if (typeof error.reasonCode !== 'number' || error.message.length === 0)
        throw new Error('bad error', { cause: error });
      return 'error';
    }
    throw new Error(`non-protocol error for input ${input.toString('hex')} (mode ${mode})`, { cause: error });
  }
  return 'ok';
}

function checkPacket(packet: Packet, v: ProtocolVersion): void {
  let again: Packet;
  try {
    again = decode(encode(packet, v), v);
  } catch (error) {
    throw new Error(`decoded packet does not re-encode: ${JSON.stringify(packet)}`, { cause: error });
  }
  const a = JSON.stringify(again);
  const b = JSON.stringify(packet);
  if (a !== b) throw new Error(`re-encoded packet differs:\n${b}\n${a}`);
}
