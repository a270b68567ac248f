/**
 * What the edge proxy's nginx.conf is generated from, derived from the stack plan. Names are
 * resolved at request time through Docker's embedded DNS, so nginx starts and serves every
 * other route while a region's container is missing.
 */
import type { NginxSettings } from "./nginx";
import type { StackPlan } from "./topology";
import { PORTS } from "./topology";

/** Docker's embedded DNS server on user-defined networks. */
export const DOCKER_DNS = "127.0.0.11";

export const NGINX_CONF_PATH = "/etc/nginx/nginx.conf";
export const TLS_CERT_PATH = "/etc/nginx/tls/server.crt";
export const TLS_KEY_PATH = "/etc/nginx/tls/server.key";
export const STATIC_ROOT = "/var/www/html";

const upstream = (c: { hostname: string; port: number }): string => `${c.hostname}:${c.port}`;

export function edgeNginxSettings(plan: StackPlan): NginxSettings {
  const defaultRegion = plan.regions.find((r) => r.type === "default");
  if (!defaultRegion) throw new Error("the stack has no default region");
  return {
    regions: plan.regions.map((r) => ({ id: r.id, upstream: upstream(r.api), state: r.state })),
    defaultRegionId: defaultRegion.id,
    upstreams: { nexus: upstream(plan.nexus.api), admin: upstream(plan.admin), player: upstream(plan.player) },
    resolver: DOCKER_DNS,
    // 0 unless the stack opts in: pools need nginx >= 1.27.3 in the image (see NginxSettings).
    upstreamKeepalive: plan.edge.upstreamKeepalive,
    listen: { http: PORTS.http, https: PORTS.https },
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
