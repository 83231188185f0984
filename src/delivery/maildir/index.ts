export { ensureMailbox, listMaildir } from './mailbox.js';
export { type FolderPath, folderPath, messageFileName } from './paths.js';
export { createMaildirTarget, MaildirTarget, type MaildirTargetOptions } from './target.js';
