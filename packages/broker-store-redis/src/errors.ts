/** Every error the Redis store raises or passes to a commit callback has a `code` from this table. */
export const RedisStoreErrorCode = {
  /** The URL or an option is malformed (see the message). */
  BAD_OPTION: 'BAD_OPTION',
  /** `open()` could not reach Redis within `connectTimeout` (see `cause`). */
  CONNECT_FAILED: 'CONNECT_FAILED',
  /** Redis holds a layout written by a newer store version (or by something else): not read. */
  UNKNOWN_FORMAT: 'UNKNOWN_FORMAT',
  /** Redis is not connected: the batch was not sent (`writable` is false). */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The changes recorded since the last commit exceeded `maxBatchBytes`: the batch was dropped. */
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  /** Redis refused the batch or the connection broke before it answered (see `cause`). */
  WRITE_FAILED: 'WRITE_FAILED',
  /** The store is closed. */
  CLOSED: 'CLOSED',
} as const;

export type RedisStoreErrorCode = (typeof RedisStoreErrorCode)[keyof typeof RedisStoreErrorCode];

/** The one error class of the Redis store: `code` says what failed, `cause` what Redis said. */
export class RedisStoreError extends Error {
  override name = 'RedisStoreError';
  readonly code: RedisStoreErrorCode;

  constructor(code: RedisStoreErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}
