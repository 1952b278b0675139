import { packageTestConfig } from '../../configs/vitest.shared.ts';

export default packageTestConfig({ integrationTimeout: 60_000 });
