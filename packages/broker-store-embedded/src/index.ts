export { SqliteStoreError, type SqliteStoreErrorCode, SqliteStoreErrors } from './errors.js';
export { type SqliteDurability, SqliteStore, type SqliteStoreOptions, sqliteStore } from './sqlite-store.js';
