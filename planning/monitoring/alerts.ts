/**
 * The alert rules, as the text of Prometheus's rules file. Each rule reads only series this
 * stack's Prometheus collects (planning/monitoring/prometheus.ts and exporters.ts) and says in its
 * summary what is wrong and where: stack, role and region come from the probe's or the exporter's
 * labels. `promtool check rules` and `promtool test rules` run on this text in the tests
 * (test/monitoring.test.ts, test/exporters.test.ts).
 */
import { stringify } from "yaml";
import { DEFAULT_MIN_FREE_PERCENT } from "../status/disk";
import { CONTAINER_SERIES, TASK_SLOT_LABEL } from "./containers";
import { EDGE_SERIES } from "./edgeLog";
import { BASE_BACKUP_SERIES, EXPORTER_JOBS, JOBS_FOUND_BY_NAME, WAL_WAITING_SERIES } from "./exporters";
import { JOBS, escapeRegex } from "./prometheus";
import { SELF_SIGNED_ORGANIZATION } from "../edge/acmeClient";
import { scheduleUnitName } from "../backup/schedule";

/** How long a probe must fail before anyone is told: one or two failed probes are a blip, not an outage. */
export const DOWN_FOR = "1m";

/** A certificate this close to its expiry alerts; renewal (Let's Encrypt's 30 days) should have happened long before. */
export const CERTIFICATE_WARNING_DAYS = 14;

/** Redis this close to maxmemory alerts: past it, the eviction policy starts dropping (or refusing) keys. */
export const REDIS_MEMORY_WARNING = 0.9;

/**
 * A region whose share of 5xx answers at the edge (its API's own, and nginx's 502/504 when the API
 * fails it) stays above this alerts, counted over EDGE_ERROR_WINDOW and only while the region gets
 * at least EDGE_MIN_REQUESTS_PER_SECOND: two failures out of three requests at night are no incident.
 */
export const EDGE_ERROR_SHARE = 0.05;
export const EDGE_ERROR_WINDOW = "5m";
export const EDGE_MIN_REQUESTS_PER_SECOND = 0.1;

/**
 * A region whose requests' 95th percentile at the edge (nginx's $request_time: the API's answer
 * and the transfer) stays above this many seconds is slow for its players: a game API answers in
 * milliseconds (EDGE_LATENCY_BUCKETS), so a second is far past normal, yet above a single slow
 * query. Counted over EDGE_ERROR_WINDOW, at the same minimum traffic as the error rate.
 */
export const EDGE_SLOW_SECONDS = 1;
export const EDGE_SLOW_QUANTILE = 0.95;

/**
 * A container restarted this many times within RESTART_LOOP_WINDOW is in a loop: Docker restarts a
 * crashed one after 0.1 s, then twice as long each time, up to a minute; an operator's restart or
 * a deploy (a new container, a series of its own) counts once at most. In swarm mode a restart is
 * a new task of the same slot: one deploy starts one per slot.
 */
export const RESTART_LOOP_STARTS = 3;
const RESTART_LOOP_MINUTES = 15;
export const RESTART_LOOP_WINDOW = `${RESTART_LOOP_MINUTES}m`;

/** Each region's requests per second at the edge, of the statuses `status` matches. */
const regionRequests = (status: string) =>
  `sum by (stack, region) (rate(${EDGE_SERIES.requests}{job="${EXPORTER_JOBS.edgeRequests}"${status}}[${EDGE_ERROR_WINDOW}]))`;

/** The root file system of the host exporter's container: the Docker data root (exporters.ts). */
const dataRoot = `job="${EXPORTER_JOBS.host}", mountpoint="/"`;

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "critical" | "warning" };
  annotations: { summary: string };
}

const where = "{{ $labels.role }}{{ with $labels.region }} of region {{ . }}{{ end }} in stack {{ $labels.stack }}";

/** What of the stack config the rules depend on. */
export interface AlertSettings {
  /**
   * How long WAL may wait to be archived (backup.repository; `npm run status`'s limit, two archive
   * timeouts); null: the stack does not archive, and there is no rule.
   */
  walWaitLimitSeconds: number | null;
  /**
   * How old a database's newest base backup may be (backup.repository with backup.schedule:
   * `npm run status`'s default --max-backup-age, the schedule's period and two hours); null: the
   * stack does not archive, or no schedule promises backups, and there is no rule.
   */
  backupAgeLimitSeconds: number | null;
  /**
   * With edge.acme: the certificate the edge serves should have been renewed by the time this
   * little of it is left (planning/edge/acmeClient.ts renewalDueSeconds); null: the certificate
   * is pasted or self-signed, and CertificateExpiresSoon alone watches it.
   */
  renewalDueSeconds: number | null;
}

const RULES: readonly AlertRule[] = [
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
    alert: "RegionDatabaseDown",
    expr: `pg_up{job="${EXPORTER_JOBS.postgres}", role="region-db"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: {
      summary: "The database of region {{ $labels.region }} in stack {{ $labels.stack }} does not accept connections",
    },
  },
  {
    alert: "NexusDatabaseDown",
    expr: `pg_up{job="${EXPORTER_JOBS.postgres}", role="nexus-db"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: { summary: "The nexus database in stack {{ $labels.stack }} does not accept connections" },
  },
  {
    alert: "RedisDown",
    expr: `redis_up{job="${EXPORTER_JOBS.redis}"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: { summary: "Redis in stack {{ $labels.stack }} does not answer" },
  },
  {
    alert: "RedisNearMaxmemory",
    // Without a maxmemory (0) there is no limit to be near: the series drops out of the division.
    expr: `redis_memory_used_bytes{job="${EXPORTER_JOBS.redis}"} / (redis_memory_max_bytes{job="${EXPORTER_JOBS.redis}"} > 0) > ${REDIS_MEMORY_WARNING}`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary:
        "Redis in stack {{ $labels.stack }} uses {{ $value | humanizePercentage }} of its maxmemory: raise redis.maxmemory or find what grew",
    },
  },
  {
    // Under `npm run status`'s default --min-free, measured as it does (Available of Used plus Available, as df's Use%).
    alert: "DiskSpaceLow",
    expr:
      `100 * node_filesystem_avail_bytes{${dataRoot}} / (node_filesystem_size_bytes{${dataRoot}} - ` +
      `node_filesystem_free_bytes{${dataRoot}} + node_filesystem_avail_bytes{${dataRoot}}) < ${DEFAULT_MIN_FREE_PERCENT}`,
    for: "5m",
    labels: { severity: "critical" },
    annotations: {
      summary:
        'The Docker data root of stack {{ $labels.stack }} has {{ $value | printf "%.1f" }}% free: the databases stop when it is full',
    },
  },
  {
    alert: "RegionErrorRate",
    expr: `(${regionRequests(', status=~"5.."')} / ${regionRequests("")}) > ${EDGE_ERROR_SHARE} and ${regionRequests("")} >= ${EDGE_MIN_REQUESTS_PER_SECOND}`,
    for: "2m",
    labels: { severity: "critical" },
    annotations: {
      summary: `{{ $value | humanizePercentage }} of the requests to region {{ $labels.region }} in stack {{ $labels.stack }} failed with a 5xx at the edge (over ${EDGE_ERROR_WINDOW})`,
    },
  },
  {
    alert: "RegionSlow",
    expr:
      `histogram_quantile(${EDGE_SLOW_QUANTILE}, sum by (stack, region, le) (rate(${EDGE_SERIES.duration}_bucket{job="${EXPORTER_JOBS.edgeRequests}"}[${EDGE_ERROR_WINDOW}]))) ` +
      `> ${EDGE_SLOW_SECONDS} and ${regionRequests("")} >= ${EDGE_MIN_REQUESTS_PER_SECOND}`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: `The slowest ${Math.round((1 - EDGE_SLOW_QUANTILE) * 100)}% of the requests to region {{ $labels.region }} in stack {{ $labels.stack }} took over {{ $value | humanizeDuration }} at the edge (over ${EDGE_ERROR_WINDOW}; the limit is ${EDGE_SLOW_SECONDS}s)`,
    },
  },
  {
    alert: "ContainerRestartLoop",
    // One host: each start gives the container a new start time; one that keeps crashing is seen at
    // a few of them. Swarm: the slot's containers started within the window, less the first (a
    // container that lived less than a scrape is missed: a task that fails at once shows as its probe).
    expr:
      `changes(${CONTAINER_SERIES.startTime}{job="${EXPORTER_JOBS.containers}", ${TASK_SLOT_LABEL}=""}[${RESTART_LOOP_WINDOW}]) >= ${RESTART_LOOP_STARTS} or ` +
      `count by (job, stack, role, region, ${TASK_SLOT_LABEL}) (max_over_time(${CONTAINER_SERIES.startTime}{job="${EXPORTER_JOBS.containers}", ${TASK_SLOT_LABEL}!=""}[${RESTART_LOOP_WINDOW}]) ` +
      `> time() - ${RESTART_LOOP_MINUTES * 60}) - 1 >= ${RESTART_LOOP_STARTS}`,
    for: "0m",
    labels: { severity: "critical" },
    annotations: {
      summary: `${where} ({{ with $labels.${TASK_SLOT_LABEL} }}swarm task {{ . }}{{ else }}container {{ $labels.name }}{{ end }}) restarted {{ $value }} times in ${RESTART_LOOP_WINDOW}: see its logs`,
    },
  },
  {
    alert: "ExporterDown",
    // The exporter itself is gone: its database's, Redis', the disk's or the edge's rules are blind meanwhile.
    expr: `up{job=~"${Object.values(EXPORTER_JOBS).join("|")}"} == 0`,
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: { summary: `Prometheus cannot scrape the exporter of ${where}: its alerts are blind` },
  },
  {
    alert: "ExporterMissing",
    // Found by its name's addresses: gone, it leaves no target to be down, only none at all.
    expr: JOBS_FOUND_BY_NAME.map((job) => `absent(up{job="${job}"})`).join(" or "),
    for: DOWN_FOR,
    labels: { severity: "critical" },
    annotations: {
      summary: "Prometheus finds no {{ $labels.job }} exporter (its name resolves to none): its alerts are blind",
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

/** WAL waiting longer than the limit is play a lost host would take with it. */
const walArchiveBehind = (limitSeconds: number): AlertRule => ({
  alert: "WalArchiveBehind",
  expr: `${WAL_WAITING_SERIES}{job="${EXPORTER_JOBS.postgres}"} > ${limitSeconds}`,
  for: DOWN_FOR,
  labels: { severity: "critical" },
  annotations: {
    summary: `WAL of ${where} has waited {{ $value | humanizeDuration }} to be archived (limit ${limitSeconds} s): is backup.repository reachable?`,
  },
});

/**
 * Every backup run (the schedule's, and the one before a database changes) takes a base backup
 * into the repository; none for longer than the schedule promises means the runs fail or do not
 * run, and a restore would replay ever more WAL (and retention keeps WAL back to the last one).
 */
const baseBackupTooOld = (limitSeconds: number): AlertRule => ({
  alert: "BaseBackupTooOld",
  expr: `time() - ${BASE_BACKUP_SERIES}{job="${EXPORTER_JOBS.postgres}"} > ${limitSeconds}`,
  for: DOWN_FOR,
  labels: { severity: "critical" },
  annotations: {
    summary: `The newest base backup of ${where} is {{ $value | humanizeDuration }} old (limit ${limitSeconds} s): does the backup schedule run? (journalctl -u ${scheduleUnitName("{{ $labels.stack }}")})`,
  },
});

/**
 * The ACME client renews long before CertificateExpiresSoon: a certificate still served past its
 * renewal means the renewals fail (or nginx refused the new one), weeks before anyone must act.
 */
const renewalOverdue = (dueSeconds: number): AlertRule => ({
  alert: "CertificateRenewalOverdue",
  expr: `probe_ssl_earliest_cert_expiry{job="${JOBS.edge}"} - time() < ${dueSeconds}`,
  for: "1h",
  labels: { severity: "warning" },
  annotations: {
    summary:
      "The edge's certificate in stack {{ $labels.stack }} expires in {{ $value | humanizeDuration }} and edge.acme has not renewed it: see the acme container's logs",
  },
});

/**
 * With edge.acme, the edge serves the program's self-signed stand-in until the first certificate
 * arrives, normally within a minute of the first deploy; still served after NOT_ISSUED_FOR, every
 * player's browser refuses the site and no renewal alert would say why for months.
 */
export const NOT_ISSUED_FOR = "30m";
const certificateNotIssued: AlertRule = {
  alert: "CertificateNotIssued",
  // The blackbox exporter's issuer label reads like "CN=localhost,O=SectorWars dev".
  expr: `probe_ssl_last_chain_info{job="${JOBS.edge}", issuer=~".*O=${escapeRegex(SELF_SIGNED_ORGANIZATION)}(,.*)?"}`,
  for: NOT_ISSUED_FOR,
  labels: { severity: "critical" },
  annotations: {
    summary:
      "The edge of stack {{ $labels.stack }} still serves its self-signed stand-in: edge.acme has not obtained a certificate (see the acme container's logs)",
  },
};

export function alertRules(settings: AlertSettings): AlertRule[] {
  return [
    ...RULES,
    ...(settings.walWaitLimitSeconds === null ? [] : [walArchiveBehind(settings.walWaitLimitSeconds)]),
    ...(settings.backupAgeLimitSeconds === null ? [] : [baseBackupTooOld(settings.backupAgeLimitSeconds)]),
    ...(settings.renewalDueSeconds === null ? [] : [renewalOverdue(settings.renewalDueSeconds), certificateNotIssued]),
  ];
}

export function alertRulesFile(settings: AlertSettings): string {
  return stringify({ groups: [{ name: "sectorwars", rules: alertRules(settings) }] }, { lineWidth: 0 });
}
