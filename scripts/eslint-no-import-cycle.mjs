// ESLint rule `local/no-import-cycle`: the project's modules form a tree. An import circle, type
// imports included, means two modules are one concern split wrongly (and forces workarounds such
// as defaults that cannot name their schema's type). eslint-plugin-import-x's no-cycle skips type
// imports, so this rule reads every relative import (TypeScript's own pre-processor, which sees
// `import type` too), finds the strongly connected components once per lint run, and reports each
// import that stays inside one, naming the circle.
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/** Resolves a relative specifier to a .ts file of the project, as the TypeScript config does. */
function resolveImport(from, specifier) {
  if (!specifier.startsWith(".")) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, "index.ts")].find((candidate) => fs.existsSync(candidate));
}

const graphs = new Map();

/** Import graph of the modules reachable from `file`, with each module's strongly connected component. */
function componentOf(file) {
  let graph = graphs.get(file);
  if (graph) return graph.component.get(file);
  graph = { edges: new Map(), component: new Map() };
  const pending = [file];
  while (pending.length > 0) {
    const current = pending.pop();
    if (graph.edges.has(current)) continue;
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(current, "utf8"), true, true);
    const targets = importedFiles.map((f) => resolveImport(current, f.fileName)).filter(Boolean);
    graph.edges.set(current, targets);
    pending.push(...targets);
  }
  // Tarjan's algorithm, iterative enough for a few hundred modules.
  let index = 0;
  const order = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const visit = (v) => {
    order.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.edges.get(v)) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), order.get(w)));
      }
    }
    if (low.get(v) === order.get(v)) {
      const members = new Set();
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        members.add(w);
      } while (w !== v);
      for (const m of members) graph.component.set(m, members);
    }
  };
  for (const v of graph.edges.keys()) if (!order.has(v)) visit(v);
  for (const v of graph.edges.keys()) graphs.set(v, graph);
  return graph.component.get(file);
}

export const noImportCycle = {
  meta: {
    type: "problem",
    docs: { description: "Forbids import circles between the project's modules, type imports included." },
    messages: { cycle: "import circle: {{members}}" },
    schema: [],
  },
  create(context) {
    const file = context.physicalFilename;
    if (!file.endsWith(".ts")) return {};
    const check = (node) => {
      if (!node.source || typeof node.source.value !== "string") return;
      const target = resolveImport(file, node.source.value);
      const members = target && componentOf(file);
      if (!members || members.size < 2 || !members.has(target)) return;
      const root = context.cwd;
      const names = [...members].map((m) => path.relative(root, m)).sort();
      context.report({ node, messageId: "cycle", data: { members: names.join(", ") } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};
