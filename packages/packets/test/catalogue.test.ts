import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogueJsonText } from '../scripts/generate-catalogue.js';
import type { CatalogueEntry } from '../src/catalogue/index.js';
import { catalogue, invalidEntries, validEntries } from '../src/catalogue/index.js';
import { Decoder, decode, encode, MqttProtocolError, type Packet } from '../src/index.js';

/** Cut points for a split decode: every byte for small entries, the edges and a sample for large ones. */
function cuts(length: number): number[] {
  if (length <= 2048) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  const out = new Set<number>();
  for (let i = 1; i < 64; i++) {
    out.add(i);
    out.add(length - i);
  }
  for (let i = 1; i < 64; i++) out.add(Math.floor((length * i) / 64));
  return [...out].filter((c) => c > 0 && c < length).sort((a, b) => a - b);
}

/** Binary fields as hex, so comparing large packets stays cheap. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return `hex:${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function decoderFor(entry: CatalogueEntry): Decoder {
  return new Decoder({ protocolVersion: entry.protocolVersion, maxPacketSize: entry.maxPacketSize });
}

describe('the catalogue', () => {
  it('is large enough and named uniquely', () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(200);
    expect(invalidEntries.length).toBeGreaterThanOrEqual(60);
    expect(new Set(catalogue.map((e) => e.name)).size).toBe(catalogue.length);
    for (const e of catalogue) {
      expect((e.packet === undefined) !== (e.error === undefined), e.name).toBe(true);
      expect(e.purpose.length, e.name).toBeGreaterThan(0);
      expect(e.clause.length, e.name).toBeGreaterThan(0);
    }
  });

  it('has every packet type at every level it exists in', () => {
    const seen = new Set(validEntries.map((e) => `${e.protocolVersion}:${e.packet!.type}`));
    const types = [
      'connect',
      'connack',
      'publish',
      'puback',
      'pubrec',
      'pubrel',
      'pubcomp',
      'subscribe',
      'suback',
    ];
    types.push('unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect');
    for (const v of [3, 4, 5])
      for (const t of types) expect(seen.has(`${v}:${t}`), `${t} at level ${v}`).toBe(true);
    expect(seen.has('5:auth')).toBe(true);
  });

  it('has every property in a valid entry', () => {
    const names = new Set<string>();
    const collect = (p: Packet) => {
      const withProps = p as { properties?: object; will?: { properties?: object } };
      for (const k of Object.keys(withProps.properties ?? {})) names.add(k);
      for (const k of Object.keys(withProps.will?.properties ?? {})) names.add(k);
    };
    for (const e of validEntries) collect(e.packet!);
    expect(names.size).toBe(28);
  });

  it('matches catalogue.json', () => {
    const file = readFileSync(new URL('../catalogue.json', import.meta.url), 'utf8');
    // Regenerate with `pnpm --filter @x/packets catalogue` when this fails.
    expect(file === catalogueJsonText()).toBe(true);
  });
});

describe.each(validEntries.map((e) => [e.name, e] as const))('valid: %s', (_name, entry) => {
  const v = entry.protocolVersion;
  it('decodes to the packet', () => {
    expect(plain(decode(entry.bytes, v))).toEqual(plain(entry.packet));
  });

  if (entry.decodeOnly) {
    // Valid but not the shortest form: the encoder writes the shortest one, which means the same.
    it('re-encodes to a shorter form that decodes to the same packet', () => {
      const bytes = encode(entry.packet!, v);
      expect(bytes.length).toBeLessThan(entry.bytes.length);
      expect(plain(decode(bytes, v))).toEqual(plain(entry.packet));
    });
  } else {
    it('encodes to the bytes', () => {
      expect(encode(entry.packet!, v).toString('hex')).toBe(Buffer.from(entry.bytes).toString('hex'));
    });
  }

  it('decodes through a Decoder split at every byte', () => {
    const bytes = Buffer.from(entry.bytes);
    for (const cut of cuts(bytes.length)) {
      const decoder = decoderFor(entry);
      const out = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(plain(out), `cut at ${cut}`).toEqual(plain([entry.packet]));
    }
    if (bytes.length <= 2048) {
      const decoder = decoderFor(entry);
      const out: Packet[] = [];
      for (let i = 0; i < bytes.length; i++) out.push(...decoder.push(bytes.subarray(i, i + 1)));
      expect(plain(out)).toEqual(plain([entry.packet]));
    }
    if (entry.packet!.type === 'connect') {
      // the server side, which learns the level from the CONNECT itself
      expect(plain(new Decoder().push(bytes))).toEqual(plain([entry.packet]));
    }
  });
});

describe.each(invalidEntries.map((e) => [e.name, e] as const))('invalid: %s', (_name, entry) => {
  const v = entry.protocolVersion;
  const expected = entry.error!;
  const expectTyped = (error: unknown) => {
    expect(error).toBeInstanceOf(MqttProtocolError);
    const e = error as MqttProtocolError;
    expect({ code: e.code, reasonCode: e.reasonCode, clause: e.clause }).toEqual(expected);
  };

  // Entries about a configured maximum packet size concern the Decoder only.
  if (entry.maxPacketSize === undefined) {
    it('decode() raises the error', () => {
      expectTyped(caught(() => decode(entry.bytes, v)));
    });
  }

  it('a Decoder raises it too, however the bytes are split', () => {
    const bytes = Buffer.from(entry.bytes);
    if (entry.prefix) {
      const decoder = decoderFor(entry);
      expect(decoder.push(bytes)).toEqual([]);
      expect(decoder.bufferedBytes).toBe(bytes.length);
      return;
    }
    if (entry.trailing) {
      expect(decoderFor(entry).push(bytes).length).toBeGreaterThan(1);
      return;
    }
    expectTyped(caught(() => decoderFor(entry).push(bytes)));
    for (const cut of cuts(bytes.length)) {
      const decoder = decoderFor(entry);
      const error = caught(() => {
        decoder.push(bytes.subarray(0, cut));
        decoder.push(bytes.subarray(cut));
      });
      expectTyped(error);
    }
  });
});
