const encoder = new TextEncoder();

/** UTF-8 bytes of a string; bytes pass through. Buffer in Node (cheaper for the codec), Uint8Array elsewhere. */
export const toBytes: (value: string | Uint8Array) => Uint8Array =
  typeof globalThis.Buffer === 'function'
    ? (value) => (typeof value === 'string' ? globalThis.Buffer.from(value) : value)
    : (value) => (typeof value === 'string' ? encoder.encode(value) : value);

/** The UTF-8 text of bytes. */
export function toText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

const decoder = new TextDecoder();
