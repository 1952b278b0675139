/**
 * Variable Byte Integers (section 1.5.5): the codec's one reader and writer of them, used for the
 * Remaining Length, Property Length, Subscription Identifier and by {@link FrameReader}.
 */

/** The largest value a Variable Byte Integer holds, and so the largest Remaining Length. */
export const MAX_VARIABLE_BYTE_INTEGER = 268_435_455;

/** {@link readVbi}: the bytes end before the integer does. */
export const NEED_MORE = -1;
/** {@link readVbi}: a fourth byte still has its continuation bit set [MQTT-1.5.5]. */
export const VBI_TOO_LONG = -2;
/** {@link readVbi}: a longer form than needed (a trailing 0x00 byte) [MQTT-1.5.5-1]. */
export const VBI_NOT_MINIMAL = -3;

/**
 * Reads the Variable Byte Integer that starts at `pos`, looking no further than `end`. Returns its
 * value, or one of the negative results {@link NEED_MORE}, {@link VBI_TOO_LONG} or
 * {@link VBI_NOT_MINIMAL}; the caller turns those into its own error. Only the shortest form is
 * accepted, so a value `v` always took `vbiSize(v)` bytes.
 */
export function readVbi(buf: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (pos + i >= end) return NEED_MORE;
    const byte = buf[pos + i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      // [MQTT-1.5.5-1] a last byte of 0x00 after the first means a longer form than needed
      return byte === 0 && i > 0 ? VBI_NOT_MINIMAL : value;
    }
    multiplier *= 128;
  }
  return VBI_TOO_LONG;
}

/** The number of bytes of the Variable Byte Integer that encodes `n`. */
export function vbiSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Writes `n` as a Variable Byte Integer at `pos` (shortest form); returns the position after it. */
export function writeVbi(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}
