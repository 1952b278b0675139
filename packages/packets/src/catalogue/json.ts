import type { Packet, ProtocolVersion } from '../packet.js';
import type { CatalogueEntry, CatalogueError } from './entry.js';

/** An entry of `catalogue.json`: bytes and binary fields as lowercase hex strings. */
export interface JsonCatalogueEntry {
  name: string;
  protocolVersion: ProtocolVersion;
  hex: string;
  packet?: unknown;
  error?: CatalogueError;
  clause: string;
  purpose: string;
  decodeOnly?: boolean;
  maxPacketSize?: number;
  prefix?: boolean;
  trailing?: boolean;
}

const toHex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** Turns binary fields (payload, password, correlationData, authenticationData) into hex strings. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value;
}

/** The catalogue as the JSON document shipped in the package. */
export function catalogueToJson(entries: readonly CatalogueEntry[]): {
  description: string;
  binaryFields: string[];
  entries: JsonCatalogueEntry[];
} {
  return {
    description:
      'MQTT 3.1 / 3.1.1 / 5.0 test packets from @x/packets: raw bytes (hex), the decoded packet (binary fields as hex) or the expected error (MQTT 5 reason code and spec clause).',
    binaryFields: ['payload', 'password', 'will.payload', 'correlationData', 'authenticationData'],
    entries: entries.map((e) => {
      const out: JsonCatalogueEntry = {
        name: e.name,
        protocolVersion: e.protocolVersion,
        hex: toHex(e.bytes),
        clause: e.clause,
        purpose: e.purpose,
      };
      if (e.packet !== undefined) out.packet = plain(e.packet as Packet);
      if (e.error !== undefined) out.error = e.error;
      if (e.decodeOnly) out.decodeOnly = true;
      if (e.maxPacketSize !== undefined) out.maxPacketSize = e.maxPacketSize;
      if (e.prefix) out.prefix = true;
      if (e.trailing) out.trailing = true;
      return out;
    }),
  };
}
