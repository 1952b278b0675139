import { MqttProtocolError, type PacketErrorCode } from './errors.js';
import type { PacketType, ProtocolVersion } from './packet.js';
import { NEED_MORE, readVbi, VBI_NOT_MINIMAL, vbiSize } from './vbi.js';

/** Buffer's native slicers, present on every Node Buffer but missing from its typings. */
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

const EMPTY = Buffer.alloc(0);
/** Slots of the recent-topic cache (a power of two). */
const TOPIC_SLOTS = 64;

const hex = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`;

/**
 * A cursor over the body of one packet. Decoding is synchronous and never calls out, so one module-level
 * instance is reused for every packet instead of allocating a reader each time.
 */
export class Reader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  /** Index in `buf` of the packet's first byte (may be negative when the header came in another chunk). */
  base = 0;
  packetType: PacketType = 'connect';
  version: ProtocolVersion = 4;
  /** False while a CONNECT's own level has not been read yet. */
  versionKnown = true;
  /**
   * Recent ASCII topic names, by a hash of their bytes. Publishers repeat their topics: a topic read
   * again costs a comparison instead of a new string from a native call.
   */
  readonly #topics: string[] = new Array<string>(TOPIC_SLOTS).fill('');

  reset(
    buf: Buffer,
    pos: number,
    end: number,
    base: number,
    type: PacketType,
    version: ProtocolVersion,
  ): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.base = base;
    this.packetType = type;
    this.version = version;
    this.versionKnown = type !== 'connect';
  }

  /** Throws the typed error, naming the packet and the offset from the packet's start. */
  fail(code: PacketErrorCode, message: string, at: number = this.pos, clause?: string): never {
    const offset = at - this.base;
    throw new MqttProtocolError(code, `${this.packetType.toUpperCase()}: ${message} at offset ${offset}`, {
      offset,
      clause,
      packetType: this.packetType,
      protocolVersion: this.versionKnown ? this.version : undefined,
    });
  }

  remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number, field: string): void {
    if (this.pos + n > this.end) {
      this.fail('TRUNCATED_PACKET', `${field} needs ${n} byte(s) but ${this.end - this.pos} remain`);
    }
  }

  u8(field: string): number {
    this.#need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.#need(2, field);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(field: string): number {
    this.#need(4, field);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /** A Variable Byte Integer (section 1.5.5): at most 4 bytes, minimal form. */
  vbi(field: string): number {
    const start = this.pos;
    const value = readVbi(this.buf, start, this.end);
    if (value >= 0) {
      this.pos = start + vbiSize(value);
      return value;
    }
    if (value === NEED_MORE) {
      return this.fail('TRUNCATED_PACKET', `${field} (Variable Byte Integer) is cut short`, this.end);
    }
    if (value === VBI_NOT_MINIMAL) {
      // [MQTT-1.5.5-1]
      return this.fail('NON_MINIMAL_VARIABLE_BYTE_INTEGER', `${field} is not in its shortest form`, start);
    }
    return this.fail('MALFORMED_VARIABLE_BYTE_INTEGER', `${field} runs longer than 4 bytes`, start);
  }

  /** Binary Data (section 1.5.6): a view into the packet's bytes, not a copy. */
  binary(field: string): Buffer {
    const len = this.u16(field);
    this.#need(len, field);
    const start = this.pos;
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }

  /** A UTF-8 Encoded String (section 1.5.4), validated. */
  utf8(field: string): string {
    const len = this.u16(field);
    this.#need(len, field);
    const b = this.buf;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c === 0 || c > 0x7f) return this.#utf8Checked(start, end, i, field);
    }
    return (b as unknown as NativeSlices).latin1Slice(start, end);
  }

  /**
   * A Topic Name: a UTF-8 string without wildcards [MQTT-3.3.2-2]. The check rides on the ASCII scan,
   * so valid topics cost one pass.
   */
  topicName(field: string): string {
    const len = this.u16(field);
    this.#need(len, field);
    const b = this.buf;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    let hash = len;
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      hash = (hash * 31 + c) | 0;
      if (c === 0x23 || c === 0x2b) {
        // [MQTT-3.3.2-2]
        this.fail('TOPIC_NAME_WILDCARD', `${field} contains the wildcard '${String.fromCharCode(c)}'`, i);
      }
      if (c === 0 || c > 0x7f) {
        const s = this.#utf8Checked(start, end, i, field);
        for (let j = i; j < end; j++) {
          const d = b[j]!;
          if (d === 0x23 || d === 0x2b) {
            // [MQTT-3.3.2-2]
            this.fail('TOPIC_NAME_WILDCARD', `${field} contains the wildcard '${String.fromCharCode(d)}'`, j);
          }
        }
        return s;
      }
    }
    const slot = hash & (TOPIC_SLOTS - 1);
    const cached = this.#topics[slot]!;
    if (cached.length === len && sameAscii(cached, b, start)) return cached;
    const topic = (b as unknown as NativeSlices).latin1Slice(start, end);
    this.#topics[slot] = topic;
    return topic;
  }

  #utf8Checked(start: number, end: number, from: number, field: string): string {
    const b = this.buf;
    let i = from;
    while (i < end) {
      const c = b[i]!;
      if (c < 0x80) {
        // [MQTT-1.5.4-2]
        if (c === 0) this.fail('UTF8_NULL_CHARACTER', `${field} contains U+0000`, i);
        i++;
        continue;
      }
      let need: number;
      let lo = 0x80;
      let hi = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) need = 1;
      else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c === 0xe0) lo = 0xa0;
        // [MQTT-1.5.4-1] 0xED 0xA0..0xBF would encode a UTF-16 surrogate
        else if (c === 0xed) hi = 0x9f;
      } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c === 0xf0) lo = 0x90;
        else if (c === 0xf4) hi = 0x8f;
      } else {
        // [MQTT-1.5.4-1]
        return this.fail('INVALID_UTF8', `${field} has the invalid UTF-8 byte ${hex(c)}`, i);
      }
      if (i + need >= end) {
        this.fail('INVALID_UTF8', `${field} ends inside a UTF-8 sequence starting with ${hex(c)}`, i);
      }
      const c1 = b[i + 1]!;
      if (c1 < lo || c1 > hi) {
        this.fail('INVALID_UTF8', `${field} has the invalid UTF-8 continuation byte ${hex(c1)}`, i + 1);
      }
      for (let k = 2; k <= need; k++) {
        const ck = b[i + k]!;
        if ((ck & 0xc0) !== 0x80) {
          this.fail('INVALID_UTF8', `${field} has the invalid UTF-8 continuation byte ${hex(ck)}`, i + k);
        }
      }
      i += need + 1;
    }
    return (b as unknown as NativeSlices).utf8Slice(start, end);
  }
}

/** The reader every decode uses (decoding never re-enters). */
export const reader = new Reader();

function sameAscii(s: string, b: Buffer, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[start + i]) return false;
  return true;
}

export { hex };
