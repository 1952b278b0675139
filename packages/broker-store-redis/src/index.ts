export { RedisStoreError, RedisStoreErrorCode } from './errors.js';
export { FORMAT_VERSION } from './redis-keys.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export { maskRedisUrl, parseRedisUrl, type RedisAddress } from './url.js';
