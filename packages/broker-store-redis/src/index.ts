export { RedisStore, type RedisStoreOptions } from './redis.js';
export {
  parseRedisUrl,
  type RedisAddress,
  RedisClient,
  type RedisClientOptions,
} from './redis-client.js';
export { RedisError, type RedisErrorCode, RedisErrors, type RespArg, type RespValue } from './resp.js';
