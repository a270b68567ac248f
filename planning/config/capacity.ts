/**
 * The sizing parts of the stack config: the host's budget (`host`), what the capacity check
 * keeps back and allows (`capacity`), and the size profiles and region sizes containers are
 * sized by (`sizeProfiles`, `regionSizes`).
 */
import { z } from "zod";
import { DEFAULTS } from "./defaults";
import { BUILT_IN_PROFILES, BUILT_IN_REGION_SIZES, type ResourceSpec, dockerCpus } from "../stack/sizes";
import { formatMemoryMb, parseMemoryMb } from "../units";

const memory = z
  .union([z.number(), z.string()])
  .describe('Megabytes as a number, or a size such as "8G" or "512M".')
  .transform((value, ctx) => {
    const mb = parseMemoryMb(value);
    if (mb === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a memory size such as "8G", "512M" or 2048`,
      });
      return z.NEVER;
    }
    return mb;
  });

const cpus = z.number().positive().max(1024).describe("CPUs, fractions allowed (0.5).");

const resourceSpec = z
  .strictObject({
    limits: z
      .strictObject({ cpus, memory })
      .describe("Hard limits: the container is throttled or OOM-killed beyond them."),
    reservations: z
      .strictObject({ cpus, memory })
      .describe(
        "What the container is guaranteed. CPU becomes a relative weight (cpuShares); memory a soft reservation.",
      ),
  })
  .transform((s, ctx): ResourceSpec => {
    const readBack = dockerCpus(s.limits.cpus);
    if (Number(readBack) !== s.limits.cpus) {
      ctx.addIssue({
        code: "custom",
        path: ["limits", "cpus"],
        message: `the docker provider reads ${s.limits.cpus} CPUs back as ${readBack}, so every preview would replace the container: use ${readBack} or another value`,
      });
    }
    if (s.reservations.cpus > s.limits.cpus) {
      ctx.addIssue({
        code: "custom",
        path: ["reservations", "cpus"],
        message: `${s.reservations.cpus} exceeds the limit of ${s.limits.cpus}`,
      });
    }
    if (s.reservations.memory > s.limits.memory) {
      ctx.addIssue({
        code: "custom",
        path: ["reservations", "memory"],
        message: `${formatMemoryMb(s.reservations.memory)} exceeds the limit of ${formatMemoryMb(s.limits.memory)}`,
      });
    }
    return {
      limits: { cpus: s.limits.cpus, memoryMb: s.limits.memory },
      reservations: { cpus: s.reservations.cpus, memoryMb: s.reservations.memory },
    };
  });

/** A size profile's or region size's name. */
export const profileName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be a lowercase name such as region-db");

export const hostSchema = z
  .strictObject({
    cpus: z.number().positive().describe("vCPUs of the Docker host."),
    memoryGb: z.number().positive().describe("Memory of the Docker host in GB."),
  })
  .describe("The Docker host's budget (prod: 64 and 64).");

const { reserve, overcommit } = DEFAULTS.capacity;

export const capacitySchema = z
  .strictObject({
    reserve: z
      .strictObject({
        cpus: z.number().nonnegative().default(reserve.cpus).describe("CPUs kept for the OS and the Docker daemon."),
        memory: memory.default(reserve.memory).describe("Memory kept for the OS and the Docker daemon."),
      })
      // Megabytes from here on, under the name that says so.
      .transform((r) => ({ cpus: r.cpus, memoryMb: r.memory }))
      .prefault({})
      .describe("What the containers may not use of sectorwars:host."),
    overcommit: z
      .strictObject({
        cpus: z
          .number()
          .min(1)
          .default(overcommit.cpus)
          .describe("Sum of CPU limits may reach this multiple of the budget (throttling is safe)."),
        memory: z
          .number()
          .min(1)
          .default(overcommit.memory)
          .describe("Sum of memory limits may reach this multiple of the budget (beyond 1, the kernel OOM-kills)."),
      })
      .prefault({})
      .describe("How far limits may exceed the budget; reservations never may."),
  })
  .prefault({})
  .describe("The capacity check run before every deploy.");

/** Only the stack's own profiles: resolveConfig merges them over the built-in ones. */
export const sizeProfilesSchema = z
  .record(profileName, resourceSpec)
  .default({})
  .describe(
    "Size profiles `{ limits: { cpus, memory }, reservations: { cpus, memory } }` by name, merged over the built-in ones " +
      `(${Object.keys(BUILT_IN_PROFILES).join(", ")}). Each core service uses the profile of its own name.`,
  );

/** Only the stack's own sizes: resolveConfig merges them over the built-in ones. */
export const regionSizesSchema = z
  .record(
    profileName,
    z.strictObject({
      api: profileName.describe("Size profile of the region's API container."),
      db: profileName.describe("Size profile of the region's PostgreSQL container."),
    }),
  )
  .default({})
  .describe(
    `Region sizes \`{ api: <profile>, db: <profile> }\` by name, merged over the built-in ones (${Object.keys(BUILT_IN_REGION_SIZES).join(", ")}).`,
  );
