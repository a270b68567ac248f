/**
 * Shell text for commands that run inside a swarm task's container: the task's container is found
 * by its service's name on the node that runs it (the node's DOCKER_HOST), since swarm names
 * containers `<service>.<slot>.<task id>` and replaces them on every update.
 */
import { shellQuote } from "../shell";

/** Swarm's own label on every task container. */
export const SWARM_SERVICE_LABEL = "com.docker.swarm.service.name";

/**
 * A POSIX sh snippet that sets $c to the running task container of `service` on this engine, or
 * fails with a message naming the service (a stopped task, or the wrong node's DOCKER_HOST).
 */
export function taskContainerSnippet(service: string): string {
  const filter = shellQuote(`label=${SWARM_SERVICE_LABEL}=${service}`);
  return (
    `c=$(docker ps -q --filter ${filter} --filter status=running | head -n 1); ` +
    `[ -n "$c" ] || { echo "no running task of ${service} on \${DOCKER_HOST:-the local engine}" >&2; exit 1; }`
  );
}

/** `command` (which names the container "$c") run against the running task of `service`. */
export function onTask(service: string, command: string): string {
  return `${taskContainerSnippet(service)}; ${command}`;
}

/**
 * Prints what every task of `service` logged, from whichever node ran it, its earlier (failed,
 * replaced) tasks included while swarm keeps them in its task history. Run against a manager.
 */
export const serviceLogsCommand = (service: string): string => `docker service logs --raw ${shellQuote(service)}`;

/** The docker CLI commands that set a node's labels, and remove them again. */
export function nodeLabelCommands(node: string, labels: Record<string, string>): { create: string; delete: string } {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return { create: "true", delete: "true" };
  const add = keys.map((k) => `--label-add ${shellQuote(`${k}=${labels[k] ?? ""}`)}`).join(" ");
  const rm = keys.map((k) => `--label-rm ${shellQuote(k)}`).join(" ");
  return {
    create: `docker node update ${add} ${shellQuote(node)} >/dev/null`,
    // The node may have left the cluster already; then there is nothing to remove.
    delete: `docker node inspect ${shellQuote(node)} >/dev/null 2>&1 || exit 0; docker node update ${rm} ${shellQuote(node)} >/dev/null`,
  };
}

/** What every running task of a service must run once its update is through. */
export interface TaskTarget {
  service: string;
  /** Tasks to wait for (one per selected node, for a global service). */
  tasks: number;
  /** The image reference the service names. */
  image: string;
  /** The Docker configs and secrets it reads, by name. */
  files: string[];
}

/** How often the wait for a service's tasks looks again: a task's health check runs every 2 s or more. */
export const TASK_POLL_SECONDS = 0.5;

/**
 * Waits until `target.tasks` tasks of the service run (swarm counts a task with a health check as
 * running once it is healthy), every task meant to run uses the declared image, configs and
 * secrets, and no update of the service is under way (its monitor time included): then the
 * service is what was declared and healthy, and no task uses a replaced config or secret any
 * more, which swarm refuses to delete. Fails at once when swarm rolled the update back or paused
 * it (its message, e.g. which task failed), else after `timeoutSeconds`, naming what it saw.
 * The provider's own wait (convergeConfig) looks 2 s after a create and 7 s after an update, then
 * every 5 to 10 s: seconds lost on every service of a chain of dependencies.
 */
export function waitForTasksCommand(target: TaskTarget, timeoutSeconds: number): string {
  const service = shellQuote(target.service);
  const want = shellQuote(`running ${target.image} ${[...target.files].sort().join(" ")}`.trim());
  const format =
    "{{.Status.State}} {{.Spec.ContainerSpec.Image}}" +
    "{{range .Spec.ContainerSpec.Configs}} {{.ConfigName}}{{end}}{{range .Spec.ContainerSpec.Secrets}} {{.SecretName}}{{end}}";
  const update = shellQuote("{{with .UpdateStatus}}{{.State}}|{{.Message}}{{end}}");
  return [
    `want=${want}`,
    `deadline=$(($(date +%s) + ${timeoutSeconds}))`,
    `while :; do`,
    `  done=0 seen=""`,
    `  for t in $(docker service ps -q --filter desired-state=running ${service}); do`,
    // One line per task: its state, image and object names, the names sorted as in $want.
    `    got=$(docker inspect --format ${shellQuote(format)} "$t" | { read -r state image names; printf '%s %s %s' "$state" "$image" "$(printf '%s' "$names" | tr ' ' '\\n' | sort | tr '\\n' ' ')"; } | sed 's/ *$//')`,
    `    seen="$seen; $got"`,
    `    [ "$got" = "$want" ] && done=$((done + 1))`,
    `  done`,
    // The state of the service's last update, if any: "completed" once its monitor time is over.
    `  update=$(docker service inspect --format ${update} ${service})`,
    `  case "$update" in`,
    `    updating*) ;;`,
    // Rolling back, rolled back or paused: a failure, unless the tasks run what is declared (the
    // stack reverted to what swarm rolled back to).
    `    rollback_*|paused*) [ "$done" -ge ${target.tasks} ] && exit 0`,
    `      echo "${target.service}: swarm stopped the update (\${update%%|*}): \${update#*|}; tasks$seen" >&2; exit 1 ;;`,
    `    *) [ "$done" -ge ${target.tasks} ] && exit 0 ;;`,
    `  esac`,
    `  [ "$(date +%s)" -lt "$deadline" ] || { echo "${target.service}: not $done of ${target.tasks} task(s) at the declared spec after ${timeoutSeconds} s (update: \${update:-none}); want $want; tasks$seen" >&2; exit 1; }`,
    `  sleep ${TASK_POLL_SECONDS}`,
    `done`,
  ].join("\n");
}
