/**
 * edge.acme: the edge's certificate from an ACME CA (Let's Encrypt by default) over HTTP-01.
 *
 * Two halves, each a POSIX sh loop in its own container, meeting in one volume:
 * - the ACME client (lego, in the `acme` container) obtains the certificate, then checks every
 *   checkInterval whether fewer than renewBeforeDays are left and renews. Challenge tokens go into
 *   the edge's static volume, which nginx serves under /.well-known/acme-challenge/ on port 80.
 *   Each new certificate is published as one PEM file (chain and key) renamed into place whole.
 * - nginx's container (edgeStartScript, planning/edge/acmeEdge.ts) installs that file before
 *   nginx starts, then watches it: a new one goes through the edge's reload script (install,
 *   `nginx -t`, graceful reload, or the previous files back and nothing reloaded). No restart, no
 *   dropped request.
 * A failed attempt leaves the certificate in use alone, is logged, and marks the client unhealthy
 * once it has a certificate to lose (`status` shows it); it is retried after 1, 2, 4... minutes.
 * Until the first certificate arrives the edge serves the self-signed one it was created with.
 */
import type { ImageSpec } from "../config";
import type { AcmeConfig } from "../config/acme";
import { intervalSeconds } from "../config/acme";
import { shellQuote } from "../shell";
import { type ContainerPlan, type PlanContext, core, joinName } from "../stack/containers";
import type { HealthcheckPlan } from "../stack/healthchecks";

/**
 * The organization of the self-signed certificate the program makes when none is pasted (dev, and
 * edge.acme's stand-in until the first certificate arrives): how the monitoring tells the stand-in
 * from an issued certificate (CertificateNotIssued).
 */
export const SELF_SIGNED_ORGANIZATION = "SectorWars dev";

/** Where things are, in the ACME client's container and in nginx's. */
export const ACME_PATHS = {
  /** The ACME volume in the client: lego's --path (accounts/, certificates/) and what it publishes. */
  data: "/var/lib/lego",
  /** The edge's static volume in the client: lego writes tokens under .well-known/acme-challenge/. */
  webroot: "/srv/webroot",
  /** edge.acme.caCertificate, for the directory's own HTTPS. */
  caBundle: "/etc/sectorwars/acme-ca.pem",
  /** The ACME volume in nginx's container, read-only. */
  inEdge: "/etc/nginx/acme",
} as const;

/** Relative to the volume: the published chain and key; the client's heartbeat and last result. */
const PUBLISHED = "live/server.pem";
/** The published chain and key as nginx's container sees them. */
export const PUBLISHED_IN_EDGE = `${ACME_PATHS.inEdge}/${PUBLISHED}`;
const HEARTBEAT = "heartbeat";
const STATUS = "status";
/** Touch this file in the client's volume for a renewal now, whatever is left of the certificate. */
export const RENEW_NOW = "renew-now";

/** How often each loop looks at its files: a forced renewal starts, a new certificate loads, within this. */
export const ACME_TICK_SECONDS = 5;
/** The first retry after a failed attempt; each next one waits twice as long, up to checkInterval. */
export const ACME_FIRST_RETRY_SECONDS = 60;

/**
 * How little of the served certificate may be left before its renewal is overdue: renewal starts
 * renewBeforeDays before expiry, at the first check past that (up to one checkInterval late), and
 * a failed attempt is retried within another checkInterval at most; two intervals cover a blip.
 */
export function renewalDueSeconds(settings: Pick<AcmeConfig, "renewBeforeDays" | "checkInterval">): number {
  return settings.renewBeforeDays * 86400 - 2 * intervalSeconds(settings.checkInterval);
}

/** What the AcmeClient component declares; null where the stack sets no edge.acme. */
export interface AcmePlan {
  client: ContainerPlan;
  /** Account, certificates and the published PEM; it outlives the container (a new image, say). */
  volumeName: string;
  /** The name certified: edge.hostname. */
  domain: string;
  settings: AcmeConfig;
  /** Resolved only by a stack with edge.acme, as the monitoring images are. */
  images: { acme: ImageSpec };
}

export function planAcme(ctx: PlanContext, domain: string): AcmePlan | null {
  const settings = ctx.config.edge.acme;
  if (!settings) return null;
  return {
    // It listens on nothing: its check reads the loop's own files.
    client: core(ctx, "acme", {
      suffix: "acme",
      hostname: "acme",
      image: "acme",
      listener: { port: 0, healthcheck: acmeHealthcheck() },
    }),
    volumeName: joinName(ctx.config.namePrefix, "acme_data"),
    domain,
    settings,
    images: { acme: ctx.config.images.acme },
  };
}

/**
 * Healthy while the loop runs (its heartbeat is fresh) and its last attempt did not fail, unless
 * there is no certificate yet: a first issuance that fails (DNS not yet pointing here) is logged
 * and retried, but does not fail the `pulumi up` that deploys it.
 */
export function acmeHealthcheck(): HealthcheckPlan {
  const at = (file: string) => `${ACME_PATHS.data}/${file}`;
  return {
    tests: [
      "CMD-SHELL",
      `[ -n "$(find ${at(HEARTBEAT)} -mmin -1 2>/dev/null)" ] && ! { [ -s ${at(PUBLISHED)} ] && grep -q ^failed ${at(STATUS)}; }`,
    ],
    interval: "30s",
    timeout: "5s",
    retries: 2,
    startPeriod: "10s",
  };
}

/** The client's environment: lego reads extra CA certificates from this variable. */
export function acmeEnvironment(settings: AcmeConfig): Record<string, string> {
  return settings.caCertificate === undefined ? {} : { LEGO_CA_CERTIFICATES: ACME_PATHS.caBundle };
}

/**
 * The ACME client's loop (the container's command, run by /bin/sh as PID 1). `run` while there is
 * no certificate, then `renew --days renewBeforeDays`, which does nothing until renewal is due.
 */
export function acmeLoopScript(plan: Pick<AcmePlan, "domain" | "settings">): string {
  const { settings } = plan;
  const check = intervalSeconds(settings.checkInterval);
  const d = ACME_PATHS.data;
  const lego = [
    "/lego --accept-tos",
    `--email ${shellQuote(settings.email)}`,
    `--server ${shellQuote(settings.directory)}`,
    `--domains "$host" --path "$d"`,
    `--http --http.webroot ${ACME_PATHS.webroot}`,
  ].join(" ");
  return [
    // No umask 077 here: lego's challenge files must stay readable by nginx's workers.
    "set -u",
    `d=${d}`,
    `host=${shellQuote(plan.domain)}`,
    `mkdir -p "$d/live"`,
    `acme() { ${lego} "$@"; }`,
    // Chain and key in one file renamed over the old one: nginx's side never reads a mixed pair.
    `publish() { (umask 077 && cat "$d/certificates/$host.crt" "$d/certificates/$host.key" > "$d/${PUBLISHED}.next") && mv -f "$d/${PUBLISHED}.next" "$d/${PUBLISHED}"; }`,
    `retry=${ACME_FIRST_RETRY_SECONDS}`,
    "next=0",
    // PID 1 ignores a SIGTERM it has no trap for; sleeping in the background lets the trap run at once.
    `trap "exit 0" TERM INT`,
    "while :; do",
    `  touch "$d/${HEARTBEAT}"`,
    "  now=$(date +%s)",
    `  if [ -e "$d/${RENEW_NOW}" ] || [ "$now" -ge "$next" ]; then`,
    `    days=${settings.renewBeforeDays}`,
    `    if [ -e "$d/${RENEW_NOW}" ]; then rm -f "$d/${RENEW_NOW}"; days=36500; echo "acme: renewal asked for (${RENEW_NOW})"; fi`,
    // Without a TTY lego waits up to 8 minutes before a renewal, to spread cron jobs over time;
    // this loop's schedule starts with its container, and such a wait would stall its heartbeat.
    `    if [ -s "$d/certificates/$host.crt" ]; then set -- renew --days "$days" --no-random-sleep; else set -- run; fi`,
    `    if acme "$@" && [ -s "$d/certificates/$host.crt" ]; then`,
    `      if ! [ -s "$d/${PUBLISHED}" ] || ! cat "$d/certificates/$host.crt" "$d/certificates/$host.key" | cmp -s - "$d/${PUBLISHED}"; then publish && echo "acme: published a new certificate for $host"; fi`,
    `      echo "ok $now" > "$d/${STATUS}"`,
    `      retry=${ACME_FIRST_RETRY_SECONDS}; next=$((now + ${check}))`,
    "    else",
    `      echo "failed $now" > "$d/${STATUS}"`,
    `      echo "acme: $1 for $host failed; the certificate in use stays; next attempt in $retry s" >&2`,
    `      next=$((now + retry)); retry=$((retry * 2)); if [ "$retry" -gt ${check} ]; then retry=${check}; fi`,
    "    fi",
    "  fi",
    `  sleep ${ACME_TICK_SECONDS} & wait $!`,
    "done",
  ].join("\n");
}
