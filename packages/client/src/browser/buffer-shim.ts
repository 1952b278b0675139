/**
 * The few Buffer methods @x/packets uses, on a Uint8Array subclass, for the browser bundle only.
 * esbuild injects it as the free identifier `Buffer` inside the bundle (scripts/build-browser.ts):
 * nothing is put on `globalThis`, and applications need no Buffer polyfill.
 */
const encoder = new TextEncoder();
const utf8 = new TextDecoder();

export class Buffer extends Uint8Array {
  static alloc(size: number): Buffer {
    return new Buffer(size);
  }

  static allocUnsafe(size: number): Buffer {
    return new Buffer(size);
  }

  static isBuffer(value: unknown): value is Buffer {
    return value instanceof Buffer;
  }

  // Parameters typed loosely to stay compatible with Uint8Array.from's overloads.
  static override from(value: unknown, offsetArg?: unknown, lengthArg?: unknown): Buffer {
    const offset = offsetArg as number | undefined;
    const length = lengthArg as number | undefined;
    if (typeof value === 'string') {
      const bytes = encoder.encode(value);
      return new Buffer(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    if (
      value instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)
    ) {
      return new Buffer(
        value as ArrayBuffer,
        offset ?? 0,
        length ?? (value as ArrayBuffer).byteLength - (offset ?? 0),
      );
    }
    const copy = new Buffer((value as ArrayLike<number>).length);
    copy.set(value as ArrayLike<number>);
    return copy;
  }

  static concat(list: readonly Uint8Array[], totalLength?: number): Buffer {
    const total = totalLength ?? list.reduce((n, b) => n + b.length, 0);
    const out = new Buffer(total);
    let pos = 0;
    for (const piece of list) {
      if (pos >= total) break;
      const take = Math.min(piece.length, total - pos);
      out.set(take === piece.length ? piece : piece.subarray(0, take), pos);
      pos += take;
    }
    return out;
  }

  copy(target: Uint8Array, targetStart = 0, sourceStart = 0, sourceEnd = this.length): number {
    const part = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
    target.set(part, targetStart);
    return part.length;
  }

  latin1Slice(start: number, end: number): string {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(this[i] as number);
    return s;
  }

  utf8Slice(start: number, end: number): string {
    return utf8.decode(this.subarray(start, end));
  }

  utf8Write(text: string, offset: number, length: number): number {
    return encoder.encodeInto(text, this.subarray(offset, offset + length)).written ?? 0;
  }
}
