/** Every failure of the SQLite store, by `code`. */
export const SqliteStoreErrors = {
  /** The file is not a database (bad header, damaged pages, failed integrity check). Never wiped. */
  CORRUPT: 'STORE_CORRUPT',
  /** The file was written by a newer version of this store; upgrade the broker or move the file. */
  NEWER_FORMAT: 'STORE_NEWER_FORMAT',
  /** The file is an SQLite database of some other program (its application id is not ours). */
  FOREIGN_FILE: 'STORE_FOREIGN_FILE',
  /** The data directory or file cannot be written (read-only file system, permissions). */
  READ_ONLY: 'STORE_READ_ONLY',
  /** The disk is full (ENOSPC, SQLITE_FULL). */
  DISK_FULL: 'STORE_DISK_FULL',
  /** Any other I/O failure while reading or writing the file. */
  IO: 'STORE_IO',
  /** Another live process (a second broker) has the store open. */
  LOCKED: 'STORE_LOCKED',
  /** The store was used before `open()` or after `close()`. */
  CLOSED: 'STORE_CLOSED',
} as const;

export type SqliteStoreErrorCode = (typeof SqliteStoreErrors)[keyof typeof SqliteStoreErrors];

/** A failure of the SQLite store: `code` says which, `cause` holds the SQLite or file system error. */
export class SqliteStoreError extends Error {
  readonly code: SqliteStoreErrorCode;
  /** The file the store was working on. */
  readonly file: string;

  constructor(code: SqliteStoreErrorCode, file: string, message: string, options?: { cause?: unknown }) {
    super(`${message} (${file})`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SqliteStoreError';
    this.code = code;
    this.file = file;
  }
}

/**
 * Sorts an error thrown by SQLite or the file system into one of our codes. SQLite reports extended
 * codes (`SQLITE_IOERR_WRITE`, `SQLITE_READONLY_DBMOVED`, …), so prefixes are compared.
 */
export function classify(error: unknown): SqliteStoreErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return SqliteStoreErrors.IO;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return SqliteStoreErrors.DISK_FULL;
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return SqliteStoreErrors.READ_ONLY;
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM'))
    return SqliteStoreErrors.READ_ONLY;
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return SqliteStoreErrors.CORRUPT;
  return SqliteStoreErrors.IO;
}
