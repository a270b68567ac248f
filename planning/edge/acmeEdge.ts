/**
 * nginx's half of edge.acme (the client's is planning/edge/acmeClient.ts, which says how the two
 * meet): install the certificate the ACME client published, and load each new one, through the
 * edge's own reload script.
 */
import { ACME_TICK_SECONDS, PUBLISHED_IN_EDGE } from "./acmeClient";
import { EDGE_FILES, type EdgeFiles, edgeReloadScript } from "./plan";

/** The edge's files with the ACME client's published PEM preferred (its volume in nginx's container). */
export const ACME_EDGE_FILES: EdgeFiles = { ...EDGE_FILES, acmePem: PUBLISHED_IN_EDGE };

/**
 * nginx's container command with edge.acme: install the published certificate if there is one,
 * start a watcher that loads each new one through the reload script, then become nginx (PID 1,
 * so Docker's stop signal reaches it). The watcher feeds the script the files in force, which it
 * then replaces with the published pair: the same checks and rollback as a `pulumi up` reload.
 */
export function edgeStartScript(files: EdgeFiles = ACME_EDGE_FILES): string {
  const pem = files.acmePem;
  if (pem === undefined) throw new Error("edgeStartScript: the files name no ACME PEM");
  const install = (reload: boolean) =>
    `{ line "${files.conf}"; line "${files.certificate}"; line "${files.certificateKey}"; } | sh -ec '${edgeReloadScript(files, { reload })}'`;
  return [
    `line() { base64 < "$1" | tr -d "\\n"; echo; }`,
    `pem=${pem}`,
    `if [ -s "$pem" ]; then ${install(false)} || echo "edge: nginx rejected the ACME certificate; serving the one the container was created with" >&2; fi`,
    // cksum of the file by name: a redirect from a missing file would print its error before 2> applies.
    `seen=$(cksum "$pem" 2>/dev/null || true)`,
    "(",
    `  while sleep ${ACME_TICK_SECONDS}; do`,
    `    now=$(cksum "$pem" 2>/dev/null || true)`,
    `    if [ -z "$now" ] || [ "$now" = "$seen" ]; then continue; fi`,
    "    seen=$now",
    `    if ${install(true)}; then echo "edge: loaded the new ACME certificate"; else echo "edge: nginx rejected the new ACME certificate; the previous one stays in force" >&2; fi`,
    "  done",
    ") &",
    `exec ${files.nginx} -g "daemon off;"`,
  ].join("\n");
}
