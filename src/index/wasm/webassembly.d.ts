// The part of the WebAssembly JavaScript API (https://webassembly.github.io/spec/js-api/) that the
// engine uses. TypeScript declares it only in lib.dom, which a Node project does not load.
declare namespace WebAssembly {
  interface MemoryDescriptor {
    /** Pages (64 KiB each) allocated now. */
    initial: number;
    /** Pages the memory may grow to (required for a shared memory). */
    maximum?: number;
    /** A memory several threads can use at once: its buffer is a SharedArrayBuffer that never moves. */
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    /** An ArrayBuffer, or a SharedArrayBuffer for a shared memory (a new, longer one after a grow). */
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    /** Grows by `deltaPages` pages; returns the previous size in pages. */
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
