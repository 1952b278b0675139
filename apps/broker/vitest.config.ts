import { packageTestConfig } from '../../configs/vitest.shared.ts';

const config = packageTestConfig();
// Vitest passes the SSR conditions to Node as --conditions; with `import` among them, pg's
// require('pg-pool') loads pg-pool's ES module build and fails. Node's defaults are enough here.
if (config.ssr?.resolve) config.ssr.resolve.conditions = ['@x/source', 'node'];

export default config;
