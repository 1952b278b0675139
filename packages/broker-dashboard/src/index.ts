export {
  assetsDir,
  CONTENT_SECURITY_POLICY,
  type DashboardOptions,
  dashboardHandler,
} from './handler.js';
