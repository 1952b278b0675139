export {
  JwtAuthBackend,
  type JwtAuthBackendOptions,
  type JwtAuthHookOptions,
  jwtAuthHook,
} from './jwt-backend.js';
