/**
 * Prometheus's and Alertmanager's own tools (promtool, amtool from Debian's prometheus and
 * prometheus-alertmanager) on files of the planners, in a directory of the test file's own.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { alertRulesFile } from "../../planning/monitoring/alerts";
import { scrapeTargets } from "../../planning/monitoring/plan";
import { PROMETHEUS_PATHS, prometheusConfig } from "../../planning/monitoring/prometheus";
import type { MonitoringPlan } from "../../planning/stack/topology";

/**
 * The rules under test: those of a stack that archives WAL, with a limit of two minutes, takes a
 * base backup at least every 10 minutes (a day and two hours in a daily schedule: the same rule,
 * a test of minutes), and renews its certificate with edge.acme (30 days before expiry, checking
 * every 12 hours: due at 29 days).
 */
export const RULE_TEST_SETTINGS = {
  walWaitLimitSeconds: 120,
  backupAgeLimitSeconds: 600,
  renewalDueSeconds: 29 * 86400,
};

export interface ToolDir {
  dir: string;
  /** Runs a tool in the directory: its exit status and everything it printed. */
  tool: (command: string, args: string[]) => { status: number | null; output: string };
  /**
   * One `promtool test rules` run of the stack's rules: input series (15 s apart) and the alerts
   * expected at each time.
   */
  runRuleTest: (
    series: { series: string; values: string }[],
    expected: object[],
  ) => { status: number | null; output: string };
  /** `promtool check config` of a stack's prometheus.yml (a test edge) with its rules, both in the directory. */
  checkPrometheusConfig: (monitoring: MonitoringPlan) => { status: number | null; output: string; config: string };
  remove: () => void;
}

export function toolDir(): ToolDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sectorwars-monitoring-"));
  const tool = (command: string, args: string[]) => {
    const r = spawnSync(command, args, { encoding: "utf8", cwd: dir });
    return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ""}` };
  };
  return {
    dir,
    tool,
    runRuleTest: (series, expected) => {
      fs.writeFileSync(path.join(dir, "rules.yml"), alertRulesFile(RULE_TEST_SETTINGS));
      const test = {
        rule_files: ["rules.yml"],
        evaluation_interval: "15s",
        tests: [{ interval: "15s", input_series: series, alert_rule_test: expected }],
      };
      fs.writeFileSync(path.join(dir, "rules.test.yml"), stringify(test));
      return tool("promtool", ["test", "rules", "rules.test.yml"]);
    },
    checkPrometheusConfig: (monitoring) => {
      const rules = path.join(dir, "rules.yml");
      fs.writeFileSync(rules, alertRulesFile(monitoring.alerts));
      const config = prometheusConfig({
        stack: "dev",
        scrapeInterval: monitoring.scrapeInterval,
        probes: monitoring.probes,
        edge: { address: "nginx:443", serverName: "localhost", labels: { stack: "dev", role: "nginx" } },
        blackbox: "blackbox",
        alertmanager: "alertmanager",
        exporters: scrapeTargets(monitoring),
      });
      fs.writeFileSync(path.join(dir, "prometheus.yml"), config.replace(PROMETHEUS_PATHS.rules, rules));
      return { ...tool("promtool", ["check", "config", "prometheus.yml"]), config };
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
