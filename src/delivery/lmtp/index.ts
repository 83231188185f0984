export {
  type LmtpConfig,
  type LmtpEndpoint,
  lmtpConfigSchema,
  parseLmtpAddress,
  servedByLmtp,
} from './config.js';
export { dotStuffed, LmtpConnection } from './connection.js';
export { createLmtpTarget, LmtpTarget, type LmtpTargetOptions } from './target.js';
