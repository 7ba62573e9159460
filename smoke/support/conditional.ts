import { it } from '@jest/globals';

/**
 * A test that only means something for some stacks (a setting, a local stack): registered as
 * skipped otherwise, so the report says it did not run rather than passing without asserting.
 */
export const itWhen = (condition: boolean) => (condition ? it : it.skip);
