/**
 * What the status report's parts (containers, backups, disk) find, and the verdict that follows:
 * shared by planning/status/evaluation.ts and the planners of its parts, so that none imports the other.
 */

/** unhealthy: exit status 1. warning: shown, exit status unchanged. */
export type Severity = "unhealthy" | "warning";

/** Something wrong or worth a look; `subject` is a container or volume name, "backups" or "disk". */
export interface Finding {
  severity: Severity;
  subject: string;
  message: string;
}

/** A row's verdict: the worst of its findings. */
export type Verdict = "ok" | Severity;

/** How the status tables print a verdict. */
export const VERDICT_WORDS: Readonly<Record<Verdict, string>> = { ok: "ok", warning: "WARN", unhealthy: "UNHEALTHY" };

export const verdictOf = (findings: readonly Finding[]): Verdict =>
  findings.some((f) => f.severity === "unhealthy") ? "unhealthy" : findings.length > 0 ? "warning" : "ok";
