/**
 * What the edge proxy's nginx.conf is generated from, derived from the stack plan. Names are
 * resolved at request time through Docker's embedded DNS, so nginx starts and serves every
 * other route while a region's container is missing.
 */
import { PAYPAL_WEBHOOK_PATH, ROUTES, regionPrefix } from "./nginx";
import type { NginxSettings } from "./settings";
import type { StackPlan } from "../stack/topology";

/** Docker's embedded DNS server on user-defined networks. */
export const DOCKER_DNS = "127.0.0.11";

export const NGINX_CONF_PATH = "/etc/nginx/nginx.conf";
export const TLS_CERT_PATH = "/etc/nginx/tls/server.crt";
export const TLS_KEY_PATH = "/etc/nginx/tls/server.key";
export const STATIC_ROOT = "/var/www/html";
/** Where the static volume is mounted: /static/ is served from here (STATIC_ROOT + /static/). */
export const STATIC_VOLUME_PATH = `${STATIC_ROOT}/static`;

const upstream = (c: { hostname: string; port: number }): string => `${c.hostname}:${c.port}`;

export function edgeNginxSettings(plan: StackPlan): NginxSettings {
  const defaultRegion = plan.regions.find((r) => r.type === "default");
  if (!defaultRegion) throw new Error("the stack has no default region");
  return {
    regions: plan.regions.map((r) => ({ id: r.id, upstream: upstream(r.api), state: r.state })),
    defaultRegionId: defaultRegion.id,
    upstreams: {
      nexus: upstream(plan.nexus.api),
      admin: upstream(plan.admin),
      player: upstream(plan.player),
      paypal: upstream(plan.paypal),
    },
    resolver: DOCKER_DNS,
    // 0 unless the stack opts in: pools need nginx >= 1.27.3 in the image (see NginxSettings).
    upstreamKeepalive: plan.edge.upstreamKeepalive,
    // The container's side of the ports the edge publishes.
    listen: { http: plan.edge.ports.http.internal, https: plan.edge.ports.https.internal },
    // Off (unset) unless the stack enforces HTTPS: then plain HTTP only redirects to the public
    // origin, and serves ACME HTTP-01 tokens from the static volume (see README).
    ...(plan.edge.httpsRedirect
      ? { httpsRedirect: { origin: plan.publicUrl, acmeChallengeRoot: STATIC_VOLUME_PATH } }
      : {}),
    // edge.acme without the redirect: plain HTTP serves everything, and the CA's tokens too.
    ...(plan.acme ? { acmeChallengeRoot: STATIC_VOLUME_PATH } : {}),
    // Whether Prometheus scrapes it or not: the APIs answer there, and players must not reach it.
    ...(plan.edge.apiMetricsPath !== null ? { apiPrivatePath: plan.edge.apiMetricsPath } : {}),
    tls: { certificate: TLS_CERT_PATH, certificateKey: TLS_KEY_PATH },
    staticRoot: STATIC_ROOT,
    // The official image links these logs to the container's stdout and stderr.
    runtime: {
      pidFile: "/var/run/nginx.pid",
      errorLog: "/var/log/nginx/error.log",
      accessLog: "/var/log/nginx/access.log",
      tempDir: "/var/cache/nginx",
      user: "nginx",
    },
  };
}

/** Where the reload script puts each file, and the nginx it checks them with. */
export interface EdgeFiles {
  conf: string;
  certificate: string;
  certificateKey: string;
  /** The nginx command, e.g. "nginx" in the container. */
  nginx: string;
  /**
   * edge.acme: the ACME client's certificate chain and key, in one PEM file it renames into place
   * whole (planning/edge/acmeClient.ts). Whenever it exists, it is installed instead of the given pair.
   */
  acmePem?: string;
}

export const EDGE_FILES: EdgeFiles = {
  conf: NGINX_CONF_PATH,
  certificate: TLS_CERT_PATH,
  certificateKey: TLS_KEY_PATH,
  nginx: "nginx",
};

/**
 * The stdin of the reload script: nginx.conf, the certificate chain and its key, each base64 on
 * a line of its own (PEM and config text never break the framing).
 */
export function edgeReloadInput(files: { conf: string; certificate: string; certificateKey: string }): string {
  const line = (text: string) => Buffer.from(text, "utf8").toString("base64");
  return `${line(files.conf)}\n${line(files.certificate)}\n${line(files.certificateKey)}\n`;
}

/**
 * A POSIX sh script (busybox's in nginx:alpine) run in the nginx container with
 * edgeReloadInput on stdin. It installs all three files, checks them together with `nginx -t`
 * (which also loads the certificate and proves the key matches it), and reloads gracefully:
 * workers finish their requests, new ones start with the new config and certificate. If nginx
 * rejects the set, the previous three files go back, nothing is reloaded, and the script fails
 * so `pulumi up` reports it. No single quote inside: it travels in `sh -ec '...'`.
 */
export function edgeReloadScript(
  files: EdgeFiles = EDGE_FILES,
  options: { reload: boolean } = { reload: true },
): string {
  const { conf, certificate, certificateKey, nginx, acmePem } = files;
  // The key's PEM block, and everything else (the chain): one file, so never a key of another certificate.
  const keyBlock = "/-BEGIN [A-Z ]*PRIVATE KEY-/,/-END [A-Z ]*PRIVATE KEY-/";
  const install = (from: "new" | "old") =>
    `put "$t/${from}.conf" "${conf}" 644 && put "$t/${from}.crt" "${certificate}" 444 && put "$t/${from}.key" "${certificateKey}" 400`;
  return [
    "umask 077",
    "t=$(mktemp -d)",
    `trap "rm -rf $t" EXIT`,
    "IFS= read -r conf; IFS= read -r crt; IFS= read -r key",
    `printf "%s" "$conf" | base64 -d > "$t/new.conf"`,
    `printf "%s" "$crt" | base64 -d > "$t/new.crt"`,
    `printf "%s" "$key" | base64 -d > "$t/new.key"`,
    ...(acmePem === undefined
      ? []
      : [
          `if [ -s "${acmePem}" ]; then cp "${acmePem}" "$t/acme.pem"; sed "${keyBlock}d" "$t/acme.pem" > "$t/new.crt"; sed -n "${keyBlock}p" "$t/acme.pem" > "$t/new.key"; fi`,
        ]),
    `cp "${conf}" "$t/old.conf"; cp "${certificate}" "$t/old.crt"; cp "${certificateKey}" "$t/old.key"`,
    // Written next to the target and renamed over it: nginx never reads a half-written file.
    `put() { cp "$1" "$2.next" && chmod "$3" "$2.next" && mv -f "$2.next" "$2"; }`,
    install("new"),
    `if ! ${nginx} -t -q -c "${conf}"; then ${install("old")}; echo "nginx rejected the new config or certificate; the previous ones stay in force" >&2; exit 1; fi`,
    // Before nginx runs (a new container's start), there is nothing to reload yet.
    ...(options.reload ? [`${nginx} -s reload -c "${conf}"`] : []),
  ].join("\n");
}

/** The stack's public URLs (the `urls` output), the same in both orchestrators. */
export function publicUrls(plan: StackPlan) {
  return {
    player: `${plan.publicUrl}${ROUTES.player}`,
    admin: `${plan.publicUrl}${ROUTES.admin}`,
    nexusApi: `${plan.publicUrl}${ROUTES.nexus}`,
    /** Register this with PayPal (developer dashboard, Webhooks); the PayPal service must answer it. */
    paypalWebhook: `${plan.publicUrl}${PAYPAL_WEBHOOK_PATH}`,
    regions: Object.fromEntries(plan.regions.map((r) => [r.id, `${plan.publicUrl}${regionPrefix(r.id)}`])),
  };
}
