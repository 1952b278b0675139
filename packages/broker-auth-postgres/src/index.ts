export {
  PostgresAuthBackend,
  type PostgresAuthBackendOptions,
  type PostgresAuthHookOptions,
  postgresAuthHook,
  wrapQuery,
} from './postgres-backend.js';
