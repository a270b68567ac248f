/**
 * The longest chain of waits through a dependency graph: what bounds a deploy when everything
 * that can run in parallel does (Pulumi starts a resource as soon as all of its dependencies are
 * done). Pure: plain nodes in, plain numbers out; bench/bringupGraph.ts feeds it the program's
 * mocked graph.
 */

export interface PathNode {
  id: string;
  /** How long the resource takes once it may start (ms); 0 for what is already there. */
  durationMs: number;
  /** Ids of the nodes it waits for. */
  dependsOn: readonly string[];
}

export interface ChainStep {
  id: string;
  durationMs: number;
  /** When it finishes, counted from the start of the deploy. */
  finishMs: number;
}

export interface CriticalPath {
  /** When the last node finishes: the deploy's length with unlimited parallelism. */
  totalMs: number;
  /** The nodes that decide it, first to last: each one starts when its predecessor finishes. */
  chain: ChainStep[];
}

/**
 * Earliest finish of every node (start = latest finish among its dependencies). Refuses unknown
 * dependencies, negative or non-finite durations, duplicate ids and cycles (a cycle has no
 * order to deploy in, and Pulumi refuses it too), naming what is wrong.
 */
export function finishTimes(nodes: readonly PathNode[]): Map<string, number> {
  const byId = new Map<string, PathNode>();
  for (const n of nodes) {
    if (byId.has(n.id)) throw new Error(`node ${n.id} appears twice`);
    if (!Number.isFinite(n.durationMs) || n.durationMs < 0) {
      throw new Error(`node ${n.id} has duration ${n.durationMs}; a duration is a finite number ≥ 0`);
    }
    byId.set(n.id, n);
  }
  for (const n of nodes) {
    const unknown = n.dependsOn.filter((d) => !byId.has(d));
    if (unknown.length > 0) throw new Error(`node ${n.id} depends on unknown ${unknown.join(", ")}`);
  }
  const finish = new Map<string, number>();
  // Iterative depth-first search: a deep chain (hundreds of regions) must not overflow the stack.
  const onPath = new Set<string>();
  for (const root of nodes) {
    if (finish.has(root.id)) continue;
    const stack: { node: PathNode; next: number }[] = [{ node: root, next: 0 }];
    onPath.add(root.id);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { node: PathNode; next: number };
      const dep = top.node.dependsOn[top.next];
      if (dep !== undefined) {
        top.next++;
        if (finish.has(dep)) continue;
        if (onPath.has(dep)) {
          const ids = stack.map((s) => s.node.id);
          const cycle = [...ids.slice(ids.indexOf(dep)), dep];
          throw new Error(`dependency cycle: ${cycle.join(" → ")}`);
        }
        onPath.add(dep);
        stack.push({ node: byId.get(dep) as PathNode, next: 0 });
        continue;
      }
      const start = Math.max(0, ...top.node.dependsOn.map((d) => finish.get(d) as number));
      finish.set(top.node.id, start + top.node.durationMs);
      onPath.delete(top.node.id);
      stack.pop();
    }
  }
  return finish;
}

/**
 * The critical path: the node that finishes last, and back from it, each time the dependency
 * that finished last (ties go to the smaller id, so the answer does not depend on input order).
 */
export function criticalPath(nodes: readonly PathNode[]): CriticalPath {
  const finish = finishTimes(nodes);
  if (nodes.length === 0) return { totalMs: 0, chain: [] };
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const latest = (ids: readonly string[]): PathNode | undefined => {
    let best: PathNode | undefined;
    for (const id of [...ids].sort()) {
      const node = byId.get(id) as PathNode;
      if (!best || (finish.get(id) as number) > (finish.get(best.id) as number)) best = node;
    }
    return best;
  };
  const chain: ChainStep[] = [];
  let current = latest(nodes.map((n) => n.id));
  while (current) {
    chain.push({ id: current.id, durationMs: current.durationMs, finishMs: finish.get(current.id) as number });
    current = latest(current.dependsOn);
  }
  chain.reverse();
  return { totalMs: chain[chain.length - 1]?.finishMs ?? 0, chain };
}
