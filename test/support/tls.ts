/**
 * Self-signed certificates for tests (openssl on the host): real PEM, so nginx -t and TLS
 * clients accept them, unlike the mocks' placeholders.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface PemFiles {
  certificate: string;
  certificateKey: string;
}

/** Writes a P-256 certificate for `commonName` (and its subjectAltName, if given) and its key. */
export function writeSelfSigned(files: PemFiles, commonName: string, subjectAltName?: string): void {
  const openssl = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"].concat(
      ["-subj", `/CN=${commonName}`],
      subjectAltName === undefined ? [] : ["-addext", `subjectAltName=${subjectAltName}`],
      ["-keyout", files.certificateKey, "-out", files.certificate],
    ),
    { encoding: "utf8", timeout: 30_000 },
  );
  if (openssl.status !== 0) throw new Error(`openssl req failed: ${openssl.stderr}`);
}

/** A certificate for `commonName` and its key, as PEM text. */
export function selfSignedPem(commonName: string): { certificate: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-"));
  try {
    const files = { certificate: path.join(dir, "cert.pem"), certificateKey: path.join(dir, "key.pem") };
    writeSelfSigned(files, commonName);
    return {
      certificate: fs.readFileSync(files.certificate, "utf8"),
      key: fs.readFileSync(files.certificateKey, "utf8"),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
