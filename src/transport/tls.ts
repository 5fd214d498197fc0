import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { TlsConfig } from "../config.js";

/**
 * The credentials of the gRPC listener: plaintext without `certFile`; TLS with the certificate chain
 * and key; mutual TLS (a client certificate signed by `clientCaFile` required) with `clientCaFile`.
 * The files are read and checked now (a missing or unreadable file, a key that does not match the
 * certificate, a CA file without TLS), so that a bad setting stops the server at start with a message
 * naming the flag, not at the first handshake.
 * @throws Error naming the flag (and its environment variable) and the file.
 */
export function serverCredentials(tls: Readonly<TlsConfig>): grpc.ServerCredentials {
  const { certFile, keyFile, clientCaFile } = tls;
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) throw new Error("--tls-client-ca-file (VECTORDB_TLS_CLIENT_CA_FILE) needs --tls-cert-file and --tls-key-file: mutual TLS is TLS first");
    return grpc.ServerCredentials.createInsecure();
  }
  if (certFile === undefined) throw new Error("--tls-key-file (VECTORDB_TLS_KEY_FILE) needs --tls-cert-file (VECTORDB_TLS_CERT_FILE)");
  if (keyFile === undefined) throw new Error("--tls-cert-file (VECTORDB_TLS_CERT_FILE) needs --tls-key-file (VECTORDB_TLS_KEY_FILE)");
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${flag}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const cert = read(certFile, "--tls-cert-file (VECTORDB_TLS_CERT_FILE)");
  const key = read(keyFile, "--tls-key-file (VECTORDB_TLS_KEY_FILE)");
  const ca = clientCaFile === undefined ? undefined : read(clientCaFile, "--tls-client-ca-file (VECTORDB_TLS_CLIENT_CA_FILE)");
  try {
    // OpenSSL parses the PEM and checks that the key belongs to the certificate.
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (error) {
    throw new Error(`--tls-cert-file ${certFile} / --tls-key-file ${keyFile}${ca === undefined ? "" : ` / --tls-client-ca-file ${clientCaFile}`}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], ca !== undefined);
}
