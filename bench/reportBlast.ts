/**
 * Section 2 of BENCHMARKS.md: the blast radius of config edits.
 */
import type { BlastResult } from "./blast";
import { table } from "./reportFormat";

export function blastSection(b: BlastResult): string[] {
  return [
    "## 2. Blast radius of config edits",
    "",
    `Measured ${b.date}. Two mocked runs compared by URN (\`test/support/diff.ts\`): baseline is the`,
    `dev stack with four regions and the backup schedule on (${b.baselineResources} resources). Container inputs`,
    "other than restart, memory, memoryReservation, memorySwap, cpuShares, cpuSet and mustRun replace",
    "(@pulumi/docker 5.x), as does any replaceOnChanges key; a Command replaces on `triggers`;",
    "ignoreChanges is honoured; a replaced resource's id and computed outputs count as unknown",
    "wherever they are used. A replaced stateless container (APIs, UIs, PayPal) is create-first: its",
    "successor runs and is healthy before it stops, so it costs no downtime; a stateful one (PostgreSQL,",
    "Redis, nginx) is delete-first, after the backup. `test/blastRadius.test.ts` asserts every set below exactly.",
    "",
    ...table(
      [
        "Edit",
        "Created",
        "Deleted",
        "Kept (retainOnDelete)",
        "Updated in place",
        "Replaced",
        "of which containers",
        "of those create-first",
        "Unchanged",
      ],
      b.rows.map((r) => [
        r.title,
        String(r.created),
        String(r.deleted),
        String(r.retained),
        String(r.updated),
        String(r.replaced),
        String(r.containersReplaced),
        String(r.containersCreateFirst ?? "–"),
        String(r.unchanged),
      ]),
    ),
    "",
    "What changes, per edit:",
    "",
    ...b.rows.flatMap((r) => [`**${r.title}**`, "", "```", r.detail, "```", ""]),
    "Adding a region replaces `backups-run`, i.e. takes a backup: its trigger fingerprints the set of",
    "active region databases so that removing or retiring one is backed up first, and a fingerprint",
    "of the new config cannot tell an added region from a removed one. No existing container is",
    "touched; accepted and asserted. `edge-reload` re-sends nginx.conf (the container's upload of it is",
    "ignoreChanges). Redis is replaced only when a slot outgrows its power-of-two `databases`.",
  ];
}
