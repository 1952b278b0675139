import type { PacketErrorCode } from '../errors.js';
import type { Packet, ProtocolVersion } from '../packet.js';

/** The error a malformed or forbidden entry must raise. */
export interface CatalogueError {
  /** The codec's error code (`PacketErrors`). */
  code: PacketErrorCode;
  /** The MQTT 5 reason code a peer is sent for it. */
  reasonCode: number;
  /** The spec clause the error reports. */
  clause: string | undefined;
}

/** One catalogue case: raw bytes and what they decode to, or the error they must raise. */
export interface CatalogueEntry {
  /** Unique, stable name, e.g. `v5-publish-qos1-properties`. */
  name: string;
  protocolVersion: ProtocolVersion;
  bytes: Uint8Array;
  /** The decoded packet, for a valid entry. */
  packet?: Packet;
  /** The expected error, for a malformed or forbidden entry. */
  error?: CatalogueError;
  /** The spec clause (or section) the entry exercises. */
  clause: string;
  /** What the entry is for. */
  purpose: string;
  /**
   * Valid bytes that are not the shortest form (a v5 PUBACK with an explicit Success code, say):
   * they decode to `packet`, but encoding `packet` gives other, shorter bytes.
   */
  decodeOnly?: boolean;
  /** For size limits: the error is raised by a `Decoder` with this `maxPacketSize`. */
  maxPacketSize?: number;
  /** The bytes are a valid beginning of a packet: a `Decoder` waits for more, `decode()` fails. */
  prefix?: boolean;
  /** The bytes hold more than one packet's worth: `decode()` fails, a `Decoder` reads on. */
  trailing?: boolean;
}

/** Frames a body: first byte, Remaining Length (shortest form), body. */
export function frame(first: number, body: number[]): number[] {
  return [first, ...vbi(body.length), ...body];
}

/** A Variable Byte Integer in its shortest form. */
export function vbi(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

export const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
export const u32 = (n: number): number[] => [
  (n >>> 24) & 0xff,
  (n >>> 16) & 0xff,
  (n >>> 8) & 0xff,
  n & 0xff,
];

/** Raw UTF-8 bytes without a length. */
export const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/** A UTF-8 Encoded String: 2-byte length, then the bytes. */
export function str(s: string): number[] {
  const bytes = utf8(s);
  return [...u16(bytes.length), ...bytes];
}

/** Binary Data: 2-byte length, then the bytes. */
export function bin(bytes: number[]): number[] {
  return [...u16(bytes.length), ...bytes];
}

/** A property block: Property Length, then the properties. */
export function props(...bytes: number[]): number[] {
  return [...vbi(bytes.length), ...bytes];
}

export const buf = (s: string | number[]): Buffer =>
  typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);

/** Builds a valid entry. */
export function ok(
  name: string,
  protocolVersion: ProtocolVersion,
  bytes: number[],
  packet: Packet,
  clause: string,
  purpose: string,
  extra: Partial<CatalogueEntry> = {},
): CatalogueEntry {
  return { name, protocolVersion, bytes: Uint8Array.from(bytes), packet, clause, purpose, ...extra };
}

/** Builds a malformed or forbidden entry. */
export function bad(
  name: string,
  protocolVersion: ProtocolVersion,
  bytes: number[],
  error: [code: PacketErrorCode, reasonCode: number, clause: string | undefined],
  purpose: string,
  extra: Partial<CatalogueEntry> = {},
): CatalogueEntry {
  const [code, reasonCode, clause] = error;
  return {
    name,
    protocolVersion,
    bytes: Uint8Array.from(bytes),
    error: { code, reasonCode, clause },
    clause: clause ?? '',
    purpose,
    ...extra,
  };
}

/** Malformed Packet and Protocol Error, the two reason codes most entries expect. */
export const MALFORMED = 0x81;
export const PROTOCOL = 0x82;
