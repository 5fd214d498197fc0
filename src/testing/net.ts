import { connect, createServer } from "node:net";

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Resolves true once `port` on 127.0.0.1 accepts a TCP connection, false if `stop()` says to give up first. */
export async function waitForPort(port: number, stop: () => boolean): Promise<boolean> {
  while (!stop()) {
    const open = await new Promise<boolean>((resolveOpen) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolveOpen(true);
      });
      socket.once("error", () => {
        socket.destroy();
        resolveOpen(false);
      });
    });
    if (open) return true;
    await sleep(20);
  }
  return false;
}
