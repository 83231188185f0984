// Node 20 has the WebAssembly global, but TypeScript declares it only in the DOM and web worker
// libraries, which would also declare browser globals this server must not use. This is the part
// outpost uses (src/dkim/canonical.ts): synchronous compilation of a small module without imports.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: Record<string, unknown>;
  }
}
