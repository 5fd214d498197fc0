// The part of the WebAssembly JavaScript API (https://webassembly.github.io/spec/js-api/) that
// vector-store.ts uses. TypeScript declares it only in lib.dom, which a Node project does not load.
declare namespace WebAssembly {
  interface MemoryDescriptor {
    /** Pages (64 KiB each) allocated now. */
    initial: number;
    /** Pages the memory may grow to. */
    maximum?: number;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
    /** Grows by `deltaPages` pages; returns the previous size in pages. Detaches the old buffer. */
    grow(deltaPages: number): number;
  }
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}
