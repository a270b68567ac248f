/**
 * One workload model behind both orchestrators. Nexus, Region, SharedRedis, WebApps and EdgeProxy
 * say what each of their workloads is (plan, image, environment, secrets, files, volumes,
 * networks) once; a backend declares it: a container on one host (containerBackend.ts) or a
 * swarm service with Docker secrets and configs (swarmBackend.ts). What differs between the two
 * is decided there, each with its reason, never in the components.
 */
import type * as docker from "@pulumi/docker";
import type * as pulumi from "@pulumi/pulumi";
import type { ImageSpec } from "../../planning/config";
import type { CoreImageKey } from "../../planning/config/images";
import type { ContainerPlan } from "../../planning/stack/topology";
import type { BackupBefore } from "../stack/dockerResources";

/**
 * The Docker object a swarm backend keeps a file or secret value in: its logical name and the
 * stable part of its Docker name. Both are the identity of an existing object in every deployed
 * swarm stack, so they are spelled out where the workload is, never derived.
 */
export interface ObjectNames {
  resourceName: string;
  stableName: string;
  /** The object's labels, when not the workload's own (a label change would replace it). */
  labels?: Record<string, string>;
}

/** A file the workload reads. */
export interface WorkloadFile {
  /** Absolute path in the container. */
  path: string;
  content: pulumi.Input<string>;
  /** Carries a credential: a secret upload on one host, a Docker secret (not a config) in swarm mode. */
  secret: boolean;
  /**
   * Read only while the container initialises its data (init SQL): on one host written into a
   * new container and never the reason to replace one (ServiceContainerArgs.createOnlyUploads).
   */
  initOnly?: boolean;
  /** Octal mode (0o444 unless set): the TLS key is 0o400, read by nginx's master as root. */
  mode?: number;
  object: ObjectNames;
}

/**
 * An environment variable whose value is a credential (a URL with a password, PayPal's keys).
 * On one host it joins the container's environment, which is then secret in state; in swarm mode
 * a service's environment is plain text in its spec, so the value is a Docker secret at
 * /run/secrets/<key in kebab case>, and the variable `<KEY>_FILE` names it.
 */
export interface SecretEnv {
  key: string;
  value: pulumi.Input<string>;
  object: ObjectNames;
}

export interface WorkloadArgs {
  /** Name, role, labels, size, health check, hardening, stop and replacement. */
  plan: ContainerPlan;
  /** From PlatformImages: the backend's own kind of reference (ids on one host, refs in swarm). */
  image: pulumi.Input<string>;
  /** Plain environment, in order; nothing secret. */
  env: Record<string, string>;
  secretEnv?: SecretEnv[];
  /** Overrides the image's command. */
  command?: string[];
  /** Overrides the image's entrypoint (lego's image runs /lego; its renewal loop is a shell). */
  entrypoint?: string[];
  files?: WorkloadFile[];
  /** Data volumes from Backend.volume, mounted at `target`. */
  volumes?: { volume: DataVolume; target: string; readOnly?: boolean }[];
  /**
   * Paths of the Docker host (directories, or the engine's socket), mounted read-only at `target`:
   * the edge's log directory for its reader, what cAdvisor reads. In swarm mode each task mounts
   * the path of the node it runs on: only a global service's (one per node, each reading its own)
   * means anything.
   */
  hostDirectories?: { source: pulumi.Input<string>; target: string }[];
  /** Networks from Backend.network (or the edge's front network), with this workload's DNS aliases on each. */
  networks: { network: docker.Network; aliases: string[] }[];
  /** A host port on 127.0.0.1 for debugging, or none. Swarm mode refuses it at config time. */
  debugPort?: number | null;
  /** Data-holding workloads: the backup runs first whenever this one would change. */
  backupBefore?: BackupBefore;
  /**
   * The public ports (the edge). One host publishes them on every address; swarm mode publishes
   * its service plan's, in host mode on the nodes that run a task.
   */
  publish?: { internal: number; external: number }[];
  /**
   * A command of the component keeps the files current in the running container (the edge's
   * reload), so on one host a new file never replaces the container; swarm mode rolls new
   * config objects out instead.
   */
  filesKeptCurrent?: boolean;
}

/** A declared workload. */
export interface Deployed {
  resource: docker.Container | docker.Service;
  /**
   * What a dependent waits for (dependsOn): the workload healthy as declared. The container
   * itself on one host (the provider waits for its health check); in swarm mode the wait for the
   * service's tasks, which the service resource does not do (components/swarm/service.ts).
   */
  ready: pulumi.Resource;
  /** Container name (one host) or service name (swarm). */
  name: pulumi.Output<string>;
  /**
   * A shell command run against this workload's running container, on the engine that runs it,
   * as a Command's inputs. `script` gets a shell word naming the container. `triggers` say when
   * it is a new container (or, in swarm, a task restarted onto new secrets).
   */
  command(script: (container: string) => string): CommandInputs;
  /**
   * A shell command over everything the workload has logged, every start included, as a
   * Command's inputs (the init SQL's check): `script` gets the command that prints those logs
   * (`docker logs` of the container; `docker service logs` of the service, which gathers its
   * tasks' from their nodes) and the container's or service's name. Triggers as for `command`.
   */
  logCommand(script: (printLogs: string, name: string) => string): CommandInputs;
}

/** The workloads behind the edge, by the backend each serves (regions: the active ones, by id). */
export interface EdgeBackends {
  nexus: Deployed;
  admin: Deployed;
  player: Deployed;
  paypal: Deployed;
  regions: Readonly<Record<string, Deployed>>;
}

/** What a Command runs against a workload: its text, the docker CLI's environment, when it reruns. */
export interface CommandInputs {
  create: pulumi.Input<string>;
  environment: Record<string, string>;
  triggers: pulumi.Input<string>[];
}

/** A data volume as the backend keeps it: a Docker volume resource on one host, none in swarm mode. */
export interface DataVolume {
  /** What a mount names: the resource's name, or the volume name for a task's engine to create. */
  source: pulumi.Input<string>;
  labels: Record<string, string>;
  /** The resource's name output on one host; the volume name in swarm mode. */
  name: pulumi.Output<string>;
}

export interface FrontNetworkArgs {
  networkName: string;
  labels: Record<string, string>;
}

export interface NetworkArgs {
  networkName: string;
  labels: Record<string, string>;
  /** A database's or Redis's debug port: on one host its network then needs a route to the host. */
  debugPort: number | null;
  /** Its database archives to a repository off the host (backup.repository): the network needs a route out. */
  egress?: boolean;
  /** Swarm mode: plain containers (the operator's psql, a restore helper) may join. */
  attachable: boolean;
}

export interface VolumeArgs {
  volumeName: string;
  /** Never changed after creation: a changed label replaces a volume and loses its data. */
  labels: Record<string, string>;
  /** Any plan that would delete the volume fails (prod). */
  protect: boolean;
}

/** An orchestrator, as the components see it. */
export interface Backend {
  /** A private network (bridge on one host, overlay in swarm mode). */
  network(name: string, args: NetworkArgs, opts: pulumi.CustomResourceOptions): docker.Network;
  /** The edge's front network, where the APIs and UIs answer; plain containers (tests, the operator's curl) may join. */
  frontNetwork(name: string, args: FrontNetworkArgs, opts: pulumi.CustomResourceOptions): docker.Network;
  /** A named data volume that outlives the stack. */
  volume(name: string, args: VolumeArgs, opts: pulumi.CustomResourceOptions): DataVolume;
  /** Declares one workload. */
  workload(name: string, args: WorkloadArgs, opts: pulumi.CustomResourceOptions): Deployed;
  /** DOCKER_HOST of the provider, for commands that are not about one workload (the migration). */
  readonly dockerEnvironment: Record<string, string>;
}

/** `DATABASE_URL` → `database-url`: the file name of a secret variable in swarm mode. */
export const kebab = (key: string): string => key.toLowerCase().replace(/_/g, "-");

/** What the composition root gets of an orchestrator, once its checks have passed. */
export interface Orchestrator {
  backend: Backend;
  /** Every image as its workloads name it (ids on one host, refs every node resolves in swarm mode). */
  images: Record<CoreImageKey, pulumi.Output<string>>;
  /** More images (monitoring's), resolved as the backend names them, under a component of their own. */
  moreImages<K extends string>(name: string, images: Record<K, ImageSpec>): Record<K, pulumi.Output<string>>;
  edge: {
    frontNetwork: docker.Network;
    /** Container or service name. */
    name: pulumi.Output<string>;
    /**
     * The host directory of the edge's json-file log under the engine's data root, for the
     * monitoring's request counter: the edge container's own (one host), every container's on each
     * edge node (swarm mode: an edge task is a new container at each update).
     */
    logDirectory(dockerRootDir: string): pulumi.Output<string>;
    configHash: string;
    /** What every app waits for (swarm: the node labels), and what the player UI waits for besides (the static fill). */
    appsAfter: pulumi.Resource[];
    playerAfter: pulumi.Resource[];
    /** Told every workload behind the edge once all are declared (one host reloads nginx after them). */
    behind(backends: EdgeBackends): void;
  };
  /** Outputs of this orchestrator alone: capacity as it counts it, placement. */
  outputs: Record<string, unknown>;
}
