/**
 * The bench's critical path (bench/criticalPath.ts) on graphs small enough to check by hand.
 */
import { describe, expect, it } from "vitest";
import { type PathNode, criticalPath, finishTimes } from "../bench/criticalPath";

const node = (id: string, durationMs: number, ...dependsOn: string[]): PathNode => ({ id, durationMs, dependsOn });

describe("criticalPath", () => {
  //   a(1) ─→ b(5) ─→ d(1)
  //     └──→ c(2) ──┘
  //   e(3), on its own
  const diamond = [node("a", 1), node("b", 5, "a"), node("c", 2, "a"), node("d", 1, "b", "c"), node("e", 3)];

  it("is the longest chain of waits, not the longest chain of nodes or the longest single node", () => {
    const path = criticalPath(diamond);
    expect(path.totalMs, "a + b + d").toBe(7);
    expect(
      path.chain.map((s) => s.id),
      "the chain through the slower branch",
    ).toEqual(["a", "b", "d"]);
    expect(
      path.chain.map((s) => s.finishMs),
      "each step finishes when its predecessor has, plus its own time",
    ).toEqual([1, 6, 7]);
  });

  it("starts a node when its last dependency finishes", () => {
    const finish = finishTimes(diamond);
    expect(Object.fromEntries(finish)).toEqual({ a: 1, b: 6, c: 3, d: 7, e: 3 });
  });

  it("gives the same answer whatever order the nodes and dependencies come in", () => {
    const reversed = [...diamond].reverse().map((n) => ({ ...n, dependsOn: [...n.dependsOn].reverse() }));
    expect(criticalPath(reversed)).toEqual(criticalPath(diamond));
  });

  it("breaks a tie by the smaller id", () => {
    const tie = [node("root", 1), node("y", 2, "root"), node("x", 2, "root"), node("end", 1, "y", "x")];
    expect(criticalPath(tie).chain.map((s) => s.id)).toEqual(["root", "x", "end"]);
  });

  it("is empty for an empty graph", () => {
    expect(criticalPath([])).toEqual({ totalMs: 0, chain: [] });
  });

  it("refuses a cycle and names it", () => {
    const cycle = [node("a", 1, "c"), node("b", 1, "a"), node("c", 1, "b"), node("d", 1)];
    expect(() => criticalPath(cycle)).toThrow(/dependency cycle: (a → c → b → a|b → a → c → b|c → b → a → c)/);
  });

  it("refuses a node that depends on itself", () => {
    expect(() => criticalPath([node("a", 1, "a")])).toThrow("dependency cycle: a → a");
  });

  it("refuses a dependency on an unknown node", () => {
    expect(() => criticalPath([node("a", 1, "ghost")])).toThrow("node a depends on unknown ghost");
  });

  it.each([
    ["negative", -1],
    ["not a number", Number.NaN],
    ["infinite", Number.POSITIVE_INFINITY],
  ])("refuses a %s duration", (_, durationMs) => {
    expect(() => criticalPath([node("a", durationMs)])).toThrow(/node a has duration/);
  });

  it("refuses a duplicate id", () => {
    expect(() => criticalPath([node("a", 1), node("a", 2)])).toThrow("node a appears twice");
  });
});
