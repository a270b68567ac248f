/**
 * The test S3 server (test/support/s3Server.ts) on a real Docker engine, as the backup tests use
 * it: restic on the host stores a file through the published port over HTTPS (trusting only the
 * run's test CA) and gets it back, and a client without the access key is turned away.
 * pgBackRest 2.45 was checked against the same server by hand (stanza-create, archive-push,
 * full/incr backup, verify, restore, expire, multipart upload, listings over 1000 keys); what
 * the platform renders for it runs in test/pitr.docker.test.ts. Note for pgBackRest: it matches
 * the host it connects to only against DNS names in the certificate, so connect by name.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { docker, ensureCommands, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled, run } from "./support/docker";
import { labelArgs } from "./support/platformContainers";
import { type S3Server, startS3Server } from "./support/s3Server";

const KIND = "s3server";
const RUN = newTestRun(KIND);
const NETWORK = `sws3${RUN.id}_net`;
const RESTIC_PASSWORD = "restic test repository password";

let s3: S3Server;
let work: string;

/** restic against the server's `restic` prefix, as the host reaches it; `keyId` defaults to the right one. */
function restic(args: string[], keyId?: string) {
  const repository = `s3:https://127.0.0.1:${s3.hostPort}/${s3.bucket}/restic`;
  return run("restic", ["--repo", repository, "--cacert", s3.caCertPath, "--no-cache", ...args], {
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: keyId ?? s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
      RESTIC_PASSWORD,
    },
    timeoutMs: 60_000,
  });
}

/** One unsigned HTTPS request from the host, trusting only the test CA: its status and body. */
function unsignedGet(urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: "127.0.0.1", port: s3.hostPort, path: urlPath, ca: s3.caCertPem, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: no answer`)));
    req.on("error", reject);
  });
}

beforeAll(async () => {
  // Fails with "these tests need the Debian packages restic: ..." when restic is missing and we
  // are not root; as root it is installed, as ensureCommands does for the other tools.
  ensureCommands({ restic: "restic" });
  await ensureDockerd();
  reapDeadRuns(KIND);
  work = fs.mkdtempSync(path.join(os.tmpdir(), "sw-s3test-"));
  // Not --internal: Docker publishes no ports of a container that is only on an internal network.
  docker(["network", "create", ...labelArgs(RUN, {}), NETWORK]);
  const started = Date.now();
  s3 = await startS3Server({ run: RUN, network: NETWORK, alias: "s3.backup.test", publish: true });
  console.log(`s3server: image and container ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 600_000);

afterAll(async () => {
  await s3?.stop();
  removeLabelled(RUN.runLabel);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

it("keeps a restic repository over HTTPS: init, backup, restore gives the same bytes", () => {
  const source = path.join(work, "source");
  fs.mkdirSync(source);
  const content = `sector map ${RUN.id}\n`.repeat(1000);
  fs.writeFileSync(path.join(source, "map.txt"), content);

  const init = restic(["init"]);
  expect(init.status, `restic init: ${init.stdout}${init.stderr}`).toBe(0);
  const backup = restic(["backup", "--host", "s3test", source]);
  expect(backup.status, `restic backup: ${backup.stdout}${backup.stderr}`).toBe(0);

  const target = path.join(work, "restored");
  const restore = restic(["restore", "latest", "--target", target]);
  expect(restore.status, `restic restore: ${restore.stdout}${restore.stderr}`).toBe(0);
  // restic restores a backed-up path below the target by its full path minus the leading "/".
  expect(fs.readFileSync(path.join(target, source, "map.txt"), "utf8")).toBe(content);
}, 60_000);

it("refuses requests without the access key (403 AccessDenied)", async () => {
  const unsigned = await unsignedGet(`/${s3.bucket}?list-type=2`);
  expect(unsigned.status).toBe(403);
  expect(unsigned.body).toContain("<Code>AccessDenied</Code>");

  // Signed, but with another key: restic cannot even read the repository's config.
  const wrongKey = restic(["snapshots"], "NOTTHETESTKEY");
  expect(wrongKey.status).not.toBe(0);
  expect(`${wrongKey.stdout}${wrongKey.stderr}`).toMatch(/Access Denied/i);
}, 60_000);
