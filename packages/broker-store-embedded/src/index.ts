export { SqliteStoreError, type SqliteStoreErrorCode, SqliteStoreErrors } from './errors.js';
export { SqliteStore, type SqliteStoreOptions, sqliteStore } from './sqlite-store.js';
