export { buildPostOfficeApp, type PostOfficeAppOptions } from './app.js';
export { canonicalJson, signObject, verifyObject } from './canonical.js';
export { createIm2000Route, domainKeys, findPostOffices, type PostOfficeAddress } from './discovery.js';
export { atomFeed, type FeedOptions, feedRoutes, jsonFeed, mailboxItems } from './feeds.js';
export { type FollowOptions, followFeedOnce } from './follow.js';
export {
  generateSigningKey,
  im2000DnsRecords,
  keyRecordText,
  loadSigningKey,
  parseKeyRecord,
  SIGNING_KEY_FILE,
  saveSigningKey,
} from './keys.js';
export {
  createNoticePolicy,
  type NoticePolicy,
  type NoticePolicyOptions,
  type SenderPostOffice,
} from './policy.js';
export { PostOffice, type PostOfficeOptions } from './post-office.js';
export type { MessageStatus, OutgoingMessage, RecipientStatus } from './protocol.js';
export { im2000ApiRoutes, im2000Plugin, im2000ProtocolRoutes } from './routes.js';
export { IM2000_DB_FILE, Im2000Store } from './store.js';
export { createPostOfficeTarget, type PostOfficeSender } from './target.js';
