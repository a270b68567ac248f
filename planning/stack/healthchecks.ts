/**
 * Container health checks as plain data. Each one proves the service answers its own
 * protocol, not merely that a process exists.
 *
 * Durations are written as Go prints them ("1m0s", not "60s"): the provider reads them back
 * from Docker in that form, and any other spelling would show as a change on every preview.
 */
import { type EngineFeatures, START_INTERVAL } from "./engine";
import { REDIS_CONF_PATH } from "./redis";

export interface HealthcheckPlan {
  tests: string[];
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
  /** Probe period during startPeriod (engine API >= 1.44 only); absent: the first probe waits `interval`. */
  startInterval?: string;
}

/**
 * The check as `engine` runs it. Without a start interval Docker probes a starting container
 * only after a whole `interval`, at every level of the dependency chain; with one it probes every
 * START_INTERVAL until the first success, then falls back to `interval`. Never sent to an older
 * engine: it refuses the create.
 */
export function withStartInterval(check: HealthcheckPlan, engine: EngineFeatures): HealthcheckPlan {
  return engine.healthStartInterval ? { ...check, startInterval: START_INTERVAL } : check;
}

/**
 * `-h 127.0.0.1` matters: during first initialisation the image runs a temporary server on the
 * Unix socket only, and a socket check would report ready before the real server is up.
 */
export function postgresHealthcheck(user: string, database: string, port: number): HealthcheckPlan {
  return {
    tests: ["CMD-SHELL", `pg_isready -q -h 127.0.0.1 -p ${port} -U ${user} -d ${database}`],
    interval: "10s",
    timeout: "5s",
    retries: 5,
    startPeriod: "1m0s",
  };
}

/**
 * `redis-cli ping` exits 0 even when it gets NOAUTH back, so the check authenticates with the
 * password from the uploaded config (kept off the command line) and requires PONG.
 */
export function redisHealthcheck(port: number, confPath: string = REDIS_CONF_PATH): HealthcheckPlan {
  return {
    tests: [
      "CMD-SHELL",
      `REDISCLI_AUTH="$(sed -n 's/^requirepass //p' ${confPath})" redis-cli -p ${port} ping | grep -qx PONG`,
    ],
    interval: "10s",
    timeout: "3s",
    retries: 5,
    startPeriod: "20s",
  };
}

/** The game's services answer HTTP; the seed checks /health with curl. */
export function httpHealthcheck(port: number, path: string): HealthcheckPlan {
  return {
    tests: ["CMD-SHELL", `curl -fsS -o /dev/null http://127.0.0.1:${port}${path} || exit 1`],
    interval: "15s",
    timeout: "5s",
    retries: 3,
    startPeriod: "1m0s",
  };
}

/**
 * Prometheus, Alertmanager and the blackbox prober answer /-/healthy, the exporters their landing
 * page at / (the official images are busybox- or alpine-based: wget is there, curl is not).
 */
export function monitoringHealthcheck(port: number, path = "/-/healthy"): HealthcheckPlan {
  return {
    tests: ["CMD-SHELL", `wget -q -O /dev/null http://127.0.0.1:${port}${path} || exit 1`],
    interval: "15s",
    timeout: "5s",
    retries: 3,
    startPeriod: "30s",
  };
}

/** nginx answers its own /healthz on plain HTTP inside the container (busybox wget is in the image). */
export function nginxHealthcheck(port: number): HealthcheckPlan {
  return {
    tests: ["CMD-SHELL", `wget -q -O /dev/null http://127.0.0.1:${port}/healthz || exit 1`],
    interval: "15s",
    timeout: "5s",
    retries: 3,
    startPeriod: "10s",
  };
}
