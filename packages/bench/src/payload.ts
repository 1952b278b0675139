/**
 * The bench payload: a fixed header that lets the subscriber side account for every message, then
 * filler up to the requested payload size.
 *
 * ```
 * offset  size  field
 *  0      2     magic 0x4D 0x42 ("MB")
 *  2      2     run tag (uint16, random per run: messages from an earlier run are told apart)
 *  4      4     publisher id (uint32, unique in the run)
 *  8      4     sequence number (uint32, 0, 1, 2 … per publisher)
 * 12      8     intended send time (float64, monotonic nanoseconds, see `monotonicNs`)
 * 20      8     actual send time (float64, same clock)
 * 28      …     filler (0x2E '.') up to the payload size
 * ```
 *
 * Open-loop scenarios put the scheduled time in "intended" and the write time in "actual", so the
 * latency measured from "intended" includes any time a message waited behind a slow send: the
 * correction for coordinated omission. Closed-loop scenarios write the same value into both.
 */

export const PAYLOAD_HEADER_SIZE = 28;
const MAGIC_0 = 0x4d;
const MAGIC_1 = 0x42;

/** Field offsets inside the payload, for patching a pre-encoded frame in place. */
export const PayloadOffset = {
  runTag: 2,
  publisherId: 4,
  sequence: 8,
  intendedNs: 12,
  actualNs: 20,
} as const;

// hrtime.bigint() is CLOCK_MONOTONIC, shared by every thread and process on the machine, but each
// call allocates a BigInt. Anchor it once per thread to performance.now() and derive from that.
const anchorNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;

/**
 * Monotonic time in nanoseconds on the `process.hrtime` clock (comparable across worker threads and
 * processes of one machine), as a float64 without allocating.
 */
export function monotonicNs(): number {
  return anchorNs + performance.now() * 1e6;
}

/** Fills `target[offset, offset + size)` with a payload header and filler. */
export function writePayloadTemplate(target: Buffer, offset: number, size: number, runTag: number): void {
  if (size < PAYLOAD_HEADER_SIZE) {
    throw new RangeError(`payload size ${size} is below the ${PAYLOAD_HEADER_SIZE}-byte bench header`);
  }
  target.fill(0x2e, offset, offset + size);
  target[offset] = MAGIC_0;
  target[offset + 1] = MAGIC_1;
  target.writeUInt16BE(runTag & 0xffff, offset + PayloadOffset.runTag);
  target.writeUInt32BE(0, offset + PayloadOffset.publisherId);
  target.writeUInt32BE(0, offset + PayloadOffset.sequence);
  target.writeDoubleBE(0, offset + PayloadOffset.intendedNs);
  target.writeDoubleBE(0, offset + PayloadOffset.actualNs);
}

/** Patches the per-message fields of a payload that starts at `offset`. */
export function stampPayload(
  target: Buffer,
  offset: number,
  publisherId: number,
  sequence: number,
  intendedNs: number,
  actualNs: number,
): void {
  target.writeUInt32BE(publisherId, offset + PayloadOffset.publisherId);
  target.writeUInt32BE(sequence, offset + PayloadOffset.sequence);
  target.writeDoubleBE(intendedNs, offset + PayloadOffset.intendedNs);
  target.writeDoubleBE(actualNs, offset + PayloadOffset.actualNs);
}

/** True when the bytes at `offset` (with `length` bytes available) carry a bench header of `runTag`. */
export function isBenchPayload(source: Buffer, offset: number, length: number, runTag: number): boolean {
  return (
    length >= PAYLOAD_HEADER_SIZE &&
    source[offset] === MAGIC_0 &&
    source[offset + 1] === MAGIC_1 &&
    source.readUInt16BE(offset + PayloadOffset.runTag) === (runTag & 0xffff)
  );
}
