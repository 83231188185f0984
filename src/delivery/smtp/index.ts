export { encodeDataBody, parseReplyLines, SmtpClientConnection, SmtpConnectionError } from './client.js';
export {
  type SmtpDeliveryConfig,
  type SmtpTargetDeps,
  smtpDeliveryConfigSchema,
  smtpTargetOptionsFromConfig,
} from './config.js';
export { encodeXtext, mailCommand } from './envelope.js';
export type { DestinationPolicy, SmarthostOptions, SmtpTarget, SmtpTargetOptions } from './options.js';
export { addressLiteral, orderExchanges, type Route, type RouteHost, routeFor } from './route.js';
export type { TlsPolicy } from './session.js';
export { createSmtpTarget } from './target.js';
