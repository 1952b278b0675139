import { packageTestConfig } from '../../configs/vitest.shared.ts';

// The commands build and start programs through npx and pnpm: minutes, not seconds, on a busy machine.
export default packageTestConfig({ integrationTimeout: 240_000 });
