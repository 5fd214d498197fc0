import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files made by openssl for a test: a CA, a server certificate for 127.0.0.1 / localhost, a client certificate. */
export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA and a client certificate it signed: one the server must refuse. */
  otherClientCert: string;
  otherClientKey: string;
  remove(): void;
}

/**
 * Makes a throwaway PKI with openssl (Debian's; on the machine already): EC P-256 keys, certificates
 * valid for a day, the server's with subjectAltName IP:127.0.0.1 and DNS:localhost.
 */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "vectordb-tls-"));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  };
  const key = (name: string): void => openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path(name));
  const ca = (name: string): void => {
    key(`${name}.key`);
    openssl("req", "-x509", "-new", "-key", path(`${name}.key`), "-days", "1", "-subj", `/CN=${name}`, "-out", path(`${name}.crt`));
  };
  const signed = (name: string, by: string): void => {
    key(`${name}.key`);
    openssl("req", "-new", "-key", path(`${name}.key`), "-subj", `/CN=${name}`, "-out", path(`${name}.csr`));
    openssl("x509", "-req", "-in", path(`${name}.csr`), "-CA", path(`${by}.crt`), "-CAkey", path(`${by}.key`), "-CAcreateserial", "-days", "1", "-extfile", path(`${name}.ext`), "-out", path(`${name}.crt`));
  };
  ca("test-ca");
  ca("other-ca");
  execFileSync("sh", ["-c", `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext && printf 'extendedKeyUsage=clientAuth\\n' > client.ext && cp client.ext other-client.ext`], { cwd: dir });
  signed("server", "test-ca");
  signed("client", "test-ca");
  signed("other-client", "other-ca");
  return {
    dir,
    caCert: path("test-ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: path("client.crt"),
    clientKey: path("client.key"),
    otherClientCert: path("other-client.crt"),
    otherClientKey: path("other-client.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
