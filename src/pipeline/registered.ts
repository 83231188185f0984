// Every check outpost knows, one line each: adding a check is one `export` line here.
export { dnsblRegistration } from '../checks/dnsbl/index.js';
export { fcrdnsRegistration } from '../checks/fcrdns/index.js';
export { mtamarkRegistration } from '../checks/mtamark/index.js';
export { reverseMxRegistration } from '../checks/reverse-mx/index.js';
export { rmxRegistration } from '../checks/rmx/index.js';
export { rttlRegistration } from '../checks/rttl/index.js';
export { genCookieRegistration } from '../checks/gen-cookie/index.js';
