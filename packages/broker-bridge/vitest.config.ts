import { packageTestConfig } from '../../configs/vitest.shared.ts';

export default packageTestConfig();
