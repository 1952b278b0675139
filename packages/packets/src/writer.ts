import { MqttProtocolError, type PacketErrorCode } from './errors.js';
import type { PacketType } from './packet.js';

/** Buffer's native writers, present on every Node Buffer but missing from its typings. */
interface NativeWrites {
  utf8Write(s: string, offset: number, length: number): number;
  latin1Write(s: string, offset: number, length: number): number;
}

/** Throws the typed error for a packet that cannot be encoded. */
export function invalid(code: PacketErrorCode, type: PacketType, message: string, clause?: string): never {
  throw new MqttProtocolError(code, `${type.toUpperCase()}: ${message}`, { packetType: type, clause });
}

/**
 * The UTF-8 length of `s`, checking that it is a valid MQTT string: no U+0000 [MQTT-1.5.4-2], no lone
 * surrogate [MQTT-1.5.4-1], at most 65535 bytes. Computed in JS because a native call costs more than
 * this loop for the short strings MQTT carries.
 */
export function utf8Length(s: string, field: string, type: PacketType): number {
  if (typeof s !== 'string') invalid('INVALID_PACKET', type, `${field} must be a string`);
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      // [MQTT-1.5.4-2]
      if (c === 0) invalid('UTF8_NULL_CHARACTER', type, `${field} contains U+0000 at index ${i}`);
    } else if (c < 0x800) {
      len += 1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
      // [MQTT-1.5.4-1] a surrogate pair is one 4-byte character; a lone surrogate has no UTF-8 form
      if (d < 0xdc00 || d > 0xdfff)
        invalid('INVALID_UTF8', type, `${field} has a lone surrogate at index ${i}`);
      len += 2;
      i++;
    } else {
      len += 2;
    }
  }
  if (len > 0xffff) invalid('STRING_TOO_LONG', type, `${field} is ${len} bytes long, more than 65535`);
  return len;
}

/**
 * Like {@link utf8Length}, and rejects the wildcards a Topic Name may not contain [MQTT-3.3.2-2].
 * One pass: the common all-ASCII topic costs a single scan.
 */
export function topicNameLength(s: string, field: string, type: PacketType): number {
  if (typeof s !== 'string') invalid('INVALID_PACKET', type, `${field} must be a string`);
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // [MQTT-3.3.2-2]
    if (c === 0x23 || c === 0x2b) invalid('TOPIC_NAME_WILDCARD', type, `${field} '${s}' contains a wildcard`);
    if (c === 0 || c >= 0x80) return utf8Length(s, field, type);
  }
  return n > 0xffff ? utf8Length(s, field, type) : n;
}

export function binaryLength(data: Uint8Array, field: string, type: PacketType): number {
  if (!(data instanceof Uint8Array)) invalid('INVALID_PACKET', type, `${field} must be a Uint8Array`);
  if (data.length > 0xffff)
    invalid('STRING_TOO_LONG', type, `${field} is ${data.length} bytes, more than 65535`);
  return data.length;
}

/**
 * Writes a length-prefixed string of `byteLength` bytes (from {@link utf8Length}); returns the new
 * offset. An ASCII string (byteLength equal to its length) skips UTF-8 encoding: short ones are copied
 * in JS, longer ones by the native latin1 writer, both faster than the UTF-8 writer.
 */
export function writeString(buf: Buffer, pos: number, s: string, byteLength: number): number {
  buf[pos] = byteLength >>> 8;
  buf[pos + 1] = byteLength & 0xff;
  pos += 2;
  const n = s.length;
  if (byteLength !== n) {
    (buf as unknown as NativeWrites).utf8Write(s, pos, byteLength);
  } else if (n < 24) {
    for (let i = 0; i < n; i++) buf[pos + i] = s.charCodeAt(i);
  } else {
    (buf as unknown as NativeWrites).latin1Write(s, pos, n);
  }
  return pos + byteLength;
}

/** Writes a length-prefixed UTF-8 string already measured by {@link utf8Length}; returns the new offset. */
export function writeUtf8(buf: Buffer, pos: number, s: string): number {
  const n = s.length;
  // Short ASCII strings (topics, client ids) are faster to copy in JS than through a native call.
  if (n < 48) {
    let i = 0;
    const at = pos + 2;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + i] = c;
    }
    if (i === n) {
      buf[pos] = n >>> 8;
      buf[pos + 1] = n & 0xff;
      return at + n;
    }
  }
  const written = (buf as unknown as NativeWrites).utf8Write(s, pos + 2, buf.length - pos - 2);
  buf[pos] = written >>> 8;
  buf[pos + 1] = written & 0xff;
  return pos + 2 + written;
}

export function writeBinary(buf: Buffer, pos: number, data: Uint8Array): number {
  const n = data.length;
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  buf.set(data, pos + 2);
  return pos + 2 + n;
}

export function writeU16(buf: Uint8Array, pos: number, n: number): number {
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  return pos + 2;
}

export function writeU32(buf: Uint8Array, pos: number, n: number): number {
  buf[pos] = n >>> 24;
  buf[pos + 1] = (n >>> 16) & 0xff;
  buf[pos + 2] = (n >>> 8) & 0xff;
  buf[pos + 3] = n & 0xff;
  return pos + 4;
}

export function isU16(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

export function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
