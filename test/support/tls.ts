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

function openssl(args: string[]): void {
  const result = spawnSync("openssl", args, { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

/**
 * A fresh CA (ca.pem, ca.key) and a server certificate it signs (cert.pem, key.pem), in `dir`,
 * for a test's side server (S3, Pebble): a CA rather than one self-signed certificate, because
 * that is how the clients are configured in production (a CA file, not a pinned certificate).
 * `subjectAltName` lists the server's names, as openssl takes them (DNS:x,IP:y).
 */
export function writeServerCertificates(
  dir: string,
  options: { ca: string; commonName: string; subjectAltName: string },
): void {
  const file = (name: string) => path.join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(
    ["req", "-x509", ...ec, "-days", "2", "-subj", `/CN=${options.ca}`].concat(
      ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
      ["-keyout", file("ca.key"), "-out", file("ca.pem")],
    ),
  );
  openssl([
    "req",
    "-new",
    ...ec,
    "-subj",
    `/CN=${options.commonName}`,
    "-keyout",
    file("key.pem"),
    "-out",
    file("cert.csr"),
  ]);
  fs.writeFileSync(
    file("ext.cnf"),
    [
      `subjectAltName=${options.subjectAltName}`,
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
    ].join("\n") + "\n",
  );
  openssl(
    ["x509", "-req", "-in", file("cert.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key")].concat(
      ["-CAcreateserial", "-days", "2", "-extfile", file("ext.cnf")],
      ["-out", file("cert.pem")],
    ),
  );
}
