import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ImageSpec } from "../../planning/config";
import { hashTree } from "../config/contentHash";

export interface PlatformImagesArgs<K extends string> {
  /** What each service runs: a registry reference or a local build. */
  images: Record<K, ImageSpec>;
  /** Prefix of local build tags, so stacks sharing a host keep their builds apart. */
  namePrefix: string;
}

/**
 * Resolves every configured image to an image id. Containers point at ids, never at tags, so a
 * tag moved in the registry changes nothing until the image resource is replaced on purpose.
 *
 * Images used by several services (the probe plays four roles in dev) are declared once, named
 * from what they are rather than who uses them.
 */
export class PlatformImages<K extends string> extends pulumi.ComponentResource {
  public readonly ids: Record<K, pulumi.Output<string>>;
  /**
   * What swarm services name instead (every node resolves it on its own): the registry digest
   * (repo@sha256:...) where there is one, else the reference, such as a local build's tag.
   */
  public readonly refs: Record<K, pulumi.Output<string>>;

  constructor(name: string, args: PlatformImagesArgs<K>, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Images", name, {}, opts);
    const byKey = new Map<string, pulumi.Output<string>>();
    const ids = {} as Record<K, pulumi.Output<string>>;
    const refs = {} as Record<K, pulumi.Output<string>>;
    const refByKey = new Map<string, pulumi.Output<string>>();
    for (const key of Object.keys(args.images) as K[]) {
      const spec = args.images[key];
      const { resourceName, reference } = describe(spec, args.namePrefix);
      let id = byKey.get(resourceName);
      if (!id) {
        const localBuild =
          spec.kind === "build"
            ? new docker.Image(
                `${name}-build-${resourceName}`,
                {
                  imageName: reference,
                  build: {
                    context: spec.context,
                    ...(spec.dockerfile ? { dockerfile: spec.dockerfile } : {}),
                  },
                  skipPush: true,
                },
                { parent: this },
              )
            : undefined;
        // keepLocally: other stacks on the host may run the same image.
        const remote = new docker.RemoteImage(
          `${name}-${resourceName}`,
          { name: localBuild ? localBuild.imageName : reference, keepLocally: true },
          { parent: this },
        );
        id = remote.imageId;
        byKey.set(resourceName, id);
        refByKey.set(
          resourceName,
          pulumi.all([remote.repoDigest, remote.name]).apply(([digest, ref]) => digest || withTag(ref)),
        );
      }
      ids[key] = id;
      refs[key] = refByKey.get(resourceName) as pulumi.Output<string>;
    }
    this.ids = ids;
    this.refs = refs;
    this.registerOutputs({ ids });
  }
}

/**
 * A reference without tag or digest names `:latest`, and that is how a swarm service reads it
 * back: declared without it, the service would show a diff on every preview.
 */
export function withTag(ref: string): string {
  const lastSegment = ref.slice(ref.lastIndexOf("/") + 1);
  return ref.includes("@") || lastSegment.includes(":") ? ref : `${ref}:latest`;
}

/** A stable resource name and the reference to resolve, for one image spec. */
function describe(spec: ImageSpec, namePrefix: string): { resourceName: string; reference: string } {
  if (spec.kind === "ref") {
    return { resourceName: spec.ref.replace(/[^a-zA-Z0-9]+/g, "-").replace(/^-|-$/g, ""), reference: spec.ref };
  }
  const dockerfile = spec.dockerfile ?? path.join(spec.context, "Dockerfile");
  const slug = path
    .basename(path.resolve(spec.context))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-");
  const where = crypto.createHash("sha256").update(`${spec.context}\0${dockerfile}`).digest("hex").slice(0, 8);
  // The tag is a hash of the build inputs: an edited context gets a new tag, so a new image id,
  // so the containers using it are replaced; an unchanged one proposes no change at all.
  return {
    resourceName: `build-${slug}-${where}`,
    reference: `${namePrefix}-local/${slug}:${hashBuildContext(spec.context, dockerfile)}`,
  };
}

const IGNORED = new Set(["node_modules", ".git"]);

/** sha256 over the relative paths and contents of the build context and Dockerfile. */
export function hashBuildContext(context: string, dockerfile: string): string {
  const hash = crypto.createHash("sha256");
  if (!fs.existsSync(context)) {
    throw new Error(`image build context "${context}" does not exist (relative to ${process.cwd()})`);
  }
  hashTree(hash, context, IGNORED);
  if (fs.existsSync(dockerfile)) hash.update("Dockerfile\0").update(fs.readFileSync(dockerfile));
  return hash.digest("hex").slice(0, 16);
}
