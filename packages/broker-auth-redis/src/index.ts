export {
  RedisAuthBackend,
  type RedisAuthBackendOptions,
  type RedisAuthHookOptions,
  redisAuthHook,
} from './redis-backend.js';
