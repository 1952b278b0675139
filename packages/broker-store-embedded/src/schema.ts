import { closeSync, openSync, readSync } from 'node:fs';
import { SqliteStoreError, SqliteStoreErrors } from './errors.js';

/**
 * The file's format. SQLite's header carries two numbers for the application: `application_id`
 * says the file is ours, `user_version` which layout it has. A broker refuses a file whose version
 * is above the one it knows (it would misread it) and never rewrites a file it refuses.
 *
 * Tables (all WITHOUT ROWID: the primary key is the row's place in the B-tree):
 *
 * ```
 * sessions      client_id → protocol version, expiry, disconnectedAt, connection will, delayed will
 * subscriptions (client_id, topic_filter) → options
 * queue         (client_id, seq) → delivery        seq order is queue order
 * inflight      (client_id, packet_id) → delivery, sent_order, released
 * inbound_qos2  (client_id, packet_id)
 * retained      topic → message
 * meta          key → value ('sys_info': JSON of the $SYS counters)
 * ```
 *
 * A delivery is `flags` (bits 0-1 the delivery's QoS, bit 2 its retain flag, bit 3 a QoS 2 flow at
 * PUBREL), `expires_at` (epoch ms, 0 never), `subscription_ids` ('1,7' or NULL) and `publish`: the
 * message as an MQTT 5 PUBLISH packet (@x/broker's stored-publish.ts).
 */
export const APPLICATION_ID = 0x4d515453; // 'MQTS'
export const FORMAT_VERSION = 1;

/**
 * Page size of a new file: SQLite's default, stated so the choice shows. A commit writes every page
 * it changed to the WAL, whole. 16 KiB pages were tried (fewer pages and system calls per commit):
 * with the bench's publishers writing one PUBLISH per PUBACK they saved the writer about 12 % of its
 * CPU, but once the publishers wrote a window's worth at once, commits carried more rows and 4 KiB
 * pages did as well or better: 101 000 to 129 000 msg/s in four runs against 98 000 and 102 000 in
 * two (QoS 1 online in `bench/persistence.ts`; README, "How it writes"). A file keeps the page size
 * it was made with (WAL mode cannot change it).
 */
export const PAGE_SIZE = 4096;

export const SCHEMA = `
CREATE TABLE sessions (
  client_id TEXT PRIMARY KEY,
  protocol_version INTEGER NOT NULL,
  expiry_interval INTEGER NOT NULL,
  disconnected_at INTEGER NOT NULL,
  will BLOB,
  will_delay INTEGER NOT NULL DEFAULT 0,
  pending_will BLOB,
  pending_will_delay INTEGER NOT NULL DEFAULT 0,
  pending_will_due INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE subscriptions (
  client_id TEXT NOT NULL,
  topic_filter TEXT NOT NULL,
  qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL,
  retain_handling INTEGER NOT NULL,
  subscription_identifier INTEGER,
  PRIMARY KEY (client_id, topic_filter)
) WITHOUT ROWID;
CREATE TABLE queue (
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  subscription_ids TEXT,
  publish BLOB NOT NULL,
  PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
CREATE TABLE inflight (
  client_id TEXT NOT NULL,
  packet_id INTEGER NOT NULL,
  sent_order INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  subscription_ids TEXT,
  publish BLOB NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
CREATE TABLE inbound_qos2 (
  client_id TEXT NOT NULL,
  packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
CREATE TABLE retained (
  topic TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  publish BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${FORMAT_VERSION};
`;

const MAGIC = 'SQLite format 3\0';

/**
 * Reads the file's header before SQLite opens it (opening may write: WAL mode, recovery), so a file
 * that is not ours, or is newer, is refused untouched. Returns false for a missing or empty file.
 */
export function checkHeader(file: string): boolean {
  const header = Buffer.alloc(100);
  let read: number;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    read = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (read === 0) return false;
  if (read < 100 || header.toString('latin1', 0, 16) !== MAGIC) {
    throw new SqliteStoreError(SqliteStoreErrors.CORRUPT, file, 'the store file is not an SQLite database');
  }
  const version = header.readUInt32BE(60);
  const applicationId = header.readUInt32BE(68);
  checkIds(file, applicationId, version);
  return true;
}

/** Refuses a file of another program or of a newer format (from the header or the pragmas). */
export function checkIds(file: string, applicationId: number, version: number): void {
  if (applicationId !== APPLICATION_ID && !(applicationId === 0 && version === 0)) {
    throw new SqliteStoreError(
      SqliteStoreErrors.FOREIGN_FILE,
      file,
      `the file is an SQLite database of another program (application id ${applicationId === -1 ? 'unset' : `0x${applicationId.toString(16)}`})`,
    );
  }
  if (version > FORMAT_VERSION) {
    throw new SqliteStoreError(
      SqliteStoreErrors.NEWER_FORMAT,
      file,
      `the store file has format ${version}, newer than the ${FORMAT_VERSION} this broker reads: upgrade the broker`,
    );
  }
}
