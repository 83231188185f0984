import type { CheckRegistration } from './check.js';
import * as registered from './registered.js';

/** Every known check by the name used in configuration (`use = "reverse-mx"`). */
export const checkRegistry: ReadonlyMap<string, CheckRegistration> = new Map(
  Object.values(registered).map((registration: CheckRegistration) => [registration.check.name, registration]),
);
