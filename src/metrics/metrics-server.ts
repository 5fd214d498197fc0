import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServerMetrics } from "./server-metrics.js";

/** A running metrics listener. */
export interface MetricsListener {
  /** `host:port` it listens on. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format 0.0.4) on its own HTTP listener, apart from the gRPC
 * port; every other path answers 404, every other method 405.
 * @throws Error (as a rejection) when the address cannot be bound, naming it.
 */
export function startMetricsListener(metrics: ServerMetrics, host: string, port: number): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    if (request.url !== "/metrics" && !request.url?.startsWith("/metrics?")) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("only GET\n");
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(request.method === "HEAD" ? undefined : text),
      (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  // Bounded: a scraper holds one connection; idle ones are dropped.
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxConnections = 64;
  return new Promise((resolve, reject) => {
    server.once("error", (error) => reject(new Error(`the metrics listener cannot bind ${host}:${port}: ${error.message}`)));
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({
        address: `${host}:${bound}`,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
