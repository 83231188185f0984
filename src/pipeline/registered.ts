// Every check outpost knows, one line each: adding a check is one `export` line here.

export { antivirusRegistration } from '../checks/antivirus/index.js';
export { arcRegistration } from '../checks/arc/index.js';
export { dkimRegistration } from '../checks/dkim/index.js';
export { dmarcRegistration } from '../checks/dmarc/index.js';
export { dnsblRegistration } from '../checks/dnsbl/index.js';
export { fcrdnsRegistration } from '../checks/fcrdns/index.js';
export { genCookieRegistration } from '../checks/gen-cookie/index.js';
export { greylistRegistration } from '../checks/greylist/index.js';
export { mtamarkRegistration } from '../checks/mtamark/index.js';
export { reverseMxRegistration } from '../checks/reverse-mx/index.js';
export { rmxRegistration } from '../checks/rmx/index.js';
export { rttlRegistration } from '../checks/rttl/index.js';
export { serverSignatureRegistration } from '../checks/server-signature/index.js';
export { spfRegistration } from '../checks/spf/index.js';
