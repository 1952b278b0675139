import { packageTestConfig } from '../../configs/vitest.shared.ts';

// A browser start and a tour of every page take tens of seconds on a loaded 2-core machine.
export default packageTestConfig({ integrationTimeout: 180_000 });
