export {
  aclFromJson,
  HttpAuthBackend,
  type HttpAuthBackendOptions,
  type HttpAuthHookOptions,
  httpAuthHook,
} from './http-backend.js';
export { HttpAuthError } from './read-json.js';
