/**
 * The alert rules, as the text of Prometheus's rules file. Each rule reads only series this
 * stack's Prometheus collects (planning/monitoring/prometheus.ts) and says in its summary what is
 * wrong and where: stack, role and region come from the probe's labels. `promtool check rules`
 * and `promtool test rules` run on this text in the tests (test/monitoring.test.ts).
 */
import { stringify } from "yaml";
import { JOBS } from "./prometheus";

/** How long a probe must fail before anyone is told: one or two failed probes are a blip, not an outage. */
export const DOWN_FOR = "1m";

/** A certificate this close to its expiry alerts; renewal (Let's Encrypt's 30 days) should have happened long before. */
export const CERTIFICATE_WARNING_DAYS = 14;

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "critical" | "warning" };
  annotations: { summary: string };
}

const where = "{{ $labels.role }}{{ with $labels.region }} of region {{ . }}{{ end }} in stack {{ $labels.stack }}";

export const ALERT_RULES: readonly AlertRule[] = [
  {
    alert: "RegionApiDown",
    expr: `probe_success{job="${JOBS.health}", role="region-api"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: {
      summary: `The API of region {{ $labels.region }} in stack {{ $labels.stack }} does not answer its health check`,
    },
  },
  {
    alert: "NexusApiDown",
    expr: `probe_success{job="${JOBS.health}", role="nexus-api"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: { summary: "The nexus API in stack {{ $labels.stack }} does not answer its health check" },
  },
  {
    alert: "ServiceDown",
    expr: `probe_success{job="${JOBS.health}", role!~"region-api|nexus-api"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: { summary: `${where} does not answer its health check` },
  },
  {
    alert: "EdgeDown",
    expr: `probe_success{job="${JOBS.edge}"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: { summary: "The edge (nginx) of stack {{ $labels.stack }} does not complete a TLS handshake" },
  },
  {
    alert: "CertificateExpiresSoon",
    expr: `probe_ssl_earliest_cert_expiry{job="${JOBS.edge}"} - time() < ${CERTIFICATE_WARNING_DAYS} * 86400`,
    for: "10m",
    labels: { severity: "warning" },
    annotations: {
      summary:
        "The edge's certificate in stack {{ $labels.stack }} expires in {{ $value | humanizeDuration }}: renew it",
    },
  },
  {
    alert: "ProbesFailing",
    // The prober itself (or Prometheus's way to it) is down: every other rule is blind meanwhile.
    expr: `up{job=~"${JOBS.health}|${JOBS.edge}"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: {
      summary: "Prometheus cannot reach the blackbox prober in stack {{ $labels.stack }}: nothing is watched",
    },
  },
];

export function alertRulesFile(rules: readonly AlertRule[] = ALERT_RULES): string {
  return stringify({ groups: [{ name: "sectorwars", rules }] }, { lineWidth: 0 });
}
