import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance, RpcError, VectorDbClient } from "../src/client/index.js";
import { makeConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { openServer } from "../src/main.js";
import { rejection } from "./helpers/assertions.js";
import { bufBinary } from "./helpers/buf-curl.js";
import { debianPython, describeRun, root, runChild, setupClientToolchains } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { makeCertificates, type TestCertificates } from "./helpers/tls.js";

const run = promisify(execFile);
const readWrite = "rw-key-0123456789";
const readOnly = "ro-key-9876543210";

/** `buf curl` over TLS (no --http2-prior-knowledge): resolves to stdout, rejects with stderr. */
async function bufCurlTls(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(bufBinary, ["curl", "--protocol", "grpc", ...args], { timeout: 30_000 });
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; code?: number };
    throw new Error(`buf curl exited ${failure.code}: ${failure.stderr ?? String(error)}`);
  }
}

/** Python grpcio's status for each case (see test/python/security_check.py). */
async function pythonCases(address: string, cases: object[]): Promise<Record<string, string>> {
  const result = await runChild(debianPython, [join(root, "test/python/security_check.py"), JSON.stringify({ address, cases })], {
    timeoutMs: 60_000,
    env: { PYTHONPATH: join(root, "clients/python/src") },
  });
  expect(result.code, describeRun(result)).toBe(0);
  return JSON.parse(result.stdout) as Record<string, string>;
}

let pythonSkip: string | undefined;
beforeAll(() => {
  pythonSkip = setupClientToolchains("python");
}, 600_000);

describe("API keys", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { auth: { apiKey: readWrite, readOnlyApiKey: readOnly } });
  });
  afterAll(() => t.stop());

  const client = (apiKey?: string): VectorDbClient => new VectorDbClient(t.address, apiKey === undefined ? {} : { apiKey });

  it("answers UNAUTHENTICATED without a key or with a wrong one, PERMISSION_DENIED to a write with the read-only key (TS client)", async () => {
    const none = client();
    const wrong = client("not-the-key");
    const reader = client(readOnly);
    const writer = client(readWrite);
    try {
      const missing = await rejection(none.collections.listCollections({}));
      expect(missing.statusName).toBe("UNAUTHENTICATED");
      expect(missing.details).toContain("an API key is required");
      expect((await rejection(wrong.collections.listCollections({}))).statusName).toBe("UNAUTHENTICATED");
      expect((await rejection(wrong.collections.listCollections({}))).details).toContain("the API key is not valid");
      // The read-only key reads; its write is refused, naming the method.
      expect((await reader.collections.listCollections({})).collections).toEqual([]);
      const write = await rejection(reader.collections.createCollection({ name: "k", dimension: 2, distance: Distance.EUCLIDEAN }));
      expect(write.statusName).toBe("PERMISSION_DENIED");
      expect(write.details).toContain("CreateCollection: the read-only API key cannot call it");
      await writer.collections.createCollection({ name: "k", dimension: 2, distance: Distance.EUCLIDEAN });
      await writer.points.upsert({ collection: "k", points: [{ id: "a", vector: [1, 2] }] });
      expect((await reader.points.search({ collection: "k", vector: [1, 2], k: 1 })).hits.map((hit) => hit.id)).toEqual(["a"]);
      expect((await rejection(reader.points.upsert({ collection: "k", points: [{ id: "b", vector: [1, 2] }] }))).statusName).toBe("PERMISSION_DENIED");
      // Bearer works as well; health stays open for probes.
      const bearer = await startTestServerBearerCheck(t.address);
      expect(bearer).toBe("OK");
      expect(await none.health()).toBe("SERVING");
    } finally {
      for (const c of [none, wrong, reader, writer]) c.close();
    }
  });

  it("gives Python grpcio the same answers", async (ctx) => {
    if (pythonSkip !== undefined) return ctx.skip();
    const results = await pythonCases(t.address, [
      { name: "no key", call: "list", api_key: null },
      { name: "wrong key", call: "list", api_key: "nope" },
      { name: "read-only list", call: "list", api_key: readOnly },
      { name: "read-only create", call: "create", api_key: readOnly },
      { name: "read-write create", call: "create", api_key: readWrite },
    ]);
    expect(results).toEqual({
      "no key": "UNAUTHENTICATED",
      "wrong key": "UNAUTHENTICATED",
      "read-only list": "OK",
      "read-only create": "PERMISSION_DENIED",
      "read-write create": "OK",
    });
  });

  it("closes reflection to callers without a key (buf curl needs --reflect-header then)", async () => {
    const url = `http://${t.address}/vectordb.v1.CollectionService/ListCollections`;
    // Refused reflection leaves buf curl without the schema (it reports the service as not found).
    await expect(bufCurlTls(["--http2-prior-knowledge", url, "-d", "{}"])).rejects.toThrow(/failed to find service named "vectordb.v1.CollectionService"/);
    const listed = await bufCurlTls(["--http2-prior-knowledge", "--reflect-header", `api-key: ${readOnly}`, "-H", `api-key: ${readOnly}`, url, "-d", "{}"]);
    expect(JSON.parse(listed)).toMatchObject({ collections: expect.any(Array) });
  });
});

/** A ListCollections call with `authorization: Bearer <read-only key>` through grpc-js metadata. */
async function startTestServerBearerCheck(address: string): Promise<string> {
  const grpc = await import("@grpc/grpc-js");
  const { CollectionService } = await import("../gen/vectordb/v1/collection_service_pb.js");
  const { createTypedClient } = await import("../src/client/index.js");
  const channel = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    const metadata = (): InstanceType<typeof grpc.Metadata> => {
      const headers = new grpc.Metadata();
      headers.set("authorization", `Bearer ${readOnly}`);
      return headers;
    };
    await createTypedClient(CollectionService, channel, metadata).listCollections({});
    return "OK";
  } catch (error) {
    return error instanceof RpcError ? error.statusName : String(error);
  } finally {
    channel.close();
  }
}

describe("TLS", () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeCertificates();
  });
  afterAll(() => certs.remove());

  it("serves TLS to the TS client, Python grpcio and buf curl, and refuses a plaintext client", async (ctx) => {
    const t = await startTestServer({}, { tls: { certFile: certs.serverCert, keyFile: certs.serverKey } });
    try {
      const secure = new VectorDbClient(t.address, { tls: { rootCerts: readFileSync(certs.caCert) } });
      try {
        expect(await secure.health()).toBe("SERVING");
        await secure.collections.createCollection({ name: "tls", dimension: 2, distance: Distance.EUCLIDEAN });
      } finally {
        secure.close();
      }
      const plain = new VectorDbClient(t.address);
      try {
        expect((await rejection(plain.collections.listCollections({}, { timeoutMs: 3_000 }))).statusName).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
      } finally {
        plain.close();
      }
      const listed = await bufCurlTls(["--cacert", certs.caCert, `https://${t.address}/vectordb.v1.CollectionService/ListCollections`, "-d", "{}"]);
      expect(JSON.parse(listed).collections.map((c: { name: string }) => c.name)).toEqual(["tls"]);
      if (pythonSkip !== undefined) return ctx.skip();
      expect(await pythonCases(t.address, [{ name: "tls", call: "list", api_key: null, tls: { ca: certs.caCert } }])).toEqual({ tls: "OK" });
    } finally {
      await t.stop();
    }
  });

  it("requires a client certificate from the given CA with --tls-client-ca-file (mutual TLS)", async (ctx) => {
    const t = await startTestServer({}, { tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.caCert } });
    try {
      const rootCerts = readFileSync(certs.caCert);
      const withCert = new VectorDbClient(t.address, { tls: { rootCerts, certChain: readFileSync(certs.clientCert), privateKey: readFileSync(certs.clientKey) } });
      const withoutCert = new VectorDbClient(t.address, { tls: { rootCerts } });
      const strangerCert = new VectorDbClient(t.address, { tls: { rootCerts, certChain: readFileSync(certs.otherClientCert), privateKey: readFileSync(certs.otherClientKey) } });
      try {
        expect((await withCert.collections.listCollections({})).collections).toEqual([]);
        expect((await rejection(withoutCert.collections.listCollections({}, { timeoutMs: 3_000 }))).statusName).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
        expect((await rejection(strangerCert.collections.listCollections({}, { timeoutMs: 3_000 }))).statusName).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
      } finally {
        for (const c of [withCert, withoutCert, strangerCert]) c.close();
      }
      const url = `https://${t.address}/vectordb.v1.CollectionService/ListCollections`;
      expect(JSON.parse(await bufCurlTls(["--cacert", certs.caCert, "--cert", certs.clientCert, "--key", certs.clientKey, url, "-d", "{}"]))).toEqual({});
      await expect(bufCurlTls(["--cacert", certs.caCert, url, "-d", "{}"])).rejects.toThrow(/buf curl exited/);
      if (pythonSkip !== undefined) return ctx.skip();
      expect(
        await pythonCases(t.address, [
          { name: "client certificate", call: "list", api_key: null, tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey } },
          { name: "none", call: "list", api_key: null, tls: { ca: certs.caCert } },
        ]),
      ).toEqual({ "client certificate": "OK", none: "UNAVAILABLE" });
    } finally {
      await t.stop();
    }
  });

  it("refuses to start with a clear message for a missing file, a key that is not the certificate's, or half a pair", async () => {
    const start = (tls: object) => openServer(makeConfig({ host: "127.0.0.1", port: 0, metricsPort: 0, dataDir: join(certs.dir, "data"), tls }), createLogger("silent"));
    await expect(start({ certFile: join(certs.dir, "missing.crt"), keyFile: certs.serverKey })).rejects.toThrow(/--tls-cert-file \(VECTORDB_TLS_CERT_FILE\): cannot read .*missing\.crt/);
    await expect(start({ certFile: certs.serverCert, keyFile: certs.clientKey })).rejects.toThrow(/--tls-cert-file .* \/ --tls-key-file .*: .*(key values mismatch|KEY_VALUES_MISMATCH)/i);
    await expect(start({ certFile: certs.serverCert })).rejects.toThrow("--tls-cert-file (VECTORDB_TLS_CERT_FILE) needs --tls-key-file (VECTORDB_TLS_KEY_FILE)");
    await expect(start({ clientCaFile: certs.caCert })).rejects.toThrow("--tls-client-ca-file (VECTORDB_TLS_CLIENT_CA_FILE) needs --tls-cert-file and --tls-key-file");
  });

  it("reads the keys from a key file, and refuses a malformed one naming its line", async () => {
    const keyFile = join(certs.dir, "keys");
    writeFileSync(keyFile, `# keys\nrw ${readWrite}\nro ${readOnly}\n`);
    const t = await startTestServer({}, { auth: { apiKeyFile: keyFile } });
    const reader = new VectorDbClient(t.address, { apiKey: readOnly });
    try {
      expect((await rejection(reader.collections.createCollection({ name: "x", dimension: 2, distance: Distance.DOT }))).statusName).toBe("PERMISSION_DENIED");
    } finally {
      reader.close();
      await t.stop();
    }
    writeFileSync(keyFile, `rw ${readWrite}\nadmin ${readOnly}\n`);
    await expect(startTestServer({}, { auth: { apiKeyFile: keyFile } })).rejects.toThrow(`--api-key-file (VECTORDB_API_KEY_FILE): ${keyFile} line 2: expected "rw <key>" or "ro <key>"`);
  });
});
