// Where clones go, resolved from the configuration the way govc resolves its defaults: the
// datacenter's VM folder when GOVC_FOLDER is unset, and the resource pool of the only cluster
// or standalone host when neither GOVC_VCLUSTER nor GOVC_HOST is set (a template has no pool
// of its own). Every name that does not resolve is reported, each with its variable.
import type { VsphereProviderConfig } from "./config.ts";
import {
  findByInventoryPath,
  type MoRef,
  readRef,
  readRefs,
  readString,
  retrieveObject,
  retrieveProperties,
  showRef,
  type VimClient,
} from "./vim/index.ts";

export interface Datacenter {
  readonly ref: MoRef;
  /** Inventory path, e.g. "DC0" or "Site A/DC0". */
  readonly path: string;
  readonly vmFolder: MoRef;
  readonly hostFolder: MoRef;
}

export interface VmFolder {
  readonly ref: MoRef;
  /** Inventory path; a VM is found by name below it. */
  readonly path: string;
}

export interface Placement {
  readonly template: MoRef;
  /** GOVC_VCLUSTER's cluster, when set (DRS places clones within it with GOVC_DRS). */
  readonly cluster: MoRef | undefined;
  readonly pool: MoRef;
  readonly host: MoRef | undefined;
  readonly datastore: MoRef | undefined;
}

/** One setting that names nothing usable. */
export class PlacementProblem extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message);
    this.name = "PlacementProblem";
    this.variable = variable;
  }
}

/** Several settings that name nothing usable; the message has one line each. */
export class PlacementProblems extends AggregateError {
  declare errors: PlacementProblem[];
  constructor(problems: readonly PlacementProblem[]) {
    super(problems, problems.map((p) => p.message).join("\n"));
    this.name = "PlacementProblems";
  }
}

/** A path from the configuration: absolute ("/dc/…") as given, else below `base`. */
function below(base: string, value: string): string {
  return value.startsWith("/") ? value.replace(/^\/+/, "") : `${base}/${value}`;
}

async function findTyped(
  client: VimClient,
  variable: string,
  value: string,
  path: string,
  types: readonly string[],
  what: string,
  signal: AbortSignal,
): Promise<MoRef> {
  const ref = await findByInventoryPath(client, path, signal);
  if (ref === undefined || !types.includes(ref.type)) {
    const found = ref === undefined ? "" : ` (found a ${ref.type})`;
    throw new PlacementProblem(variable, `${variable}=${value}: no ${what} at inventory path "${path}"${found}`);
  }
  return ref;
}

export async function resolveDatacenter(
  client: VimClient,
  config: VsphereProviderConfig,
  signal: AbortSignal,
): Promise<Datacenter> {
  const path = config.datacenter.replace(/^\/+/, "");
  const ref = await findTyped(client, "GOVC_DATACENTER", config.datacenter, path, ["Datacenter"], "datacenter", signal);
  const dc = await retrieveObject(client, ref, ["vmFolder", "hostFolder"], signal);
  const vmFolder = readRef(dc?.props.get("vmFolder"));
  const hostFolder = readRef(dc?.props.get("hostFolder"));
  if (vmFolder === undefined || hostFolder === undefined)
    throw new Error(`datacenter ${path} has no VM or host folder`);
  return { ref, path, vmFolder, hostFolder };
}

export async function resolveVmFolder(
  client: VimClient,
  config: VsphereProviderConfig,
  dc: Datacenter,
  signal: AbortSignal,
): Promise<VmFolder> {
  if (config.folder === undefined) return { ref: dc.vmFolder, path: `${dc.path}/vm` };
  const path = below(`${dc.path}/vm`, config.folder);
  return { ref: await findTyped(client, "GOVC_FOLDER", config.folder, path, ["Folder"], "VM folder", signal), path };
}

async function computeResource(
  client: VimClient,
  ref: MoRef,
  signal: AbortSignal,
): Promise<{ pool: MoRef | undefined; hosts: MoRef[] }> {
  const found = await retrieveObject(client, ref, ["resourcePool", "host"], signal);
  return { pool: readRef(found?.props.get("resourcePool")), hosts: readRefs(found?.props.get("host")) };
}

async function resolvePool(
  client: VimClient,
  config: VsphereProviderConfig,
  dc: Datacenter,
  signal: AbortSignal,
): Promise<{ pool: MoRef; host: MoRef | undefined; cluster: MoRef | undefined }> {
  let pool: MoRef | undefined;
  let host: MoRef | undefined;
  let cluster: MoRef | undefined;
  if (config.cluster !== undefined) {
    const clusterPath = below(`${dc.path}/host`, config.cluster);
    cluster = await findTyped(
      client,
      "GOVC_VCLUSTER",
      config.cluster,
      clusterPath,
      ["ClusterComputeResource"],
      "cluster",
      signal,
    );
    pool = (await computeResource(client, cluster, signal)).pool;
    // With DRS, the recommendation names the host (GOVC_HOST is not used, as upstream).
    if (config.host !== undefined && !config.drs)
      host = await findTyped(
        client,
        "GOVC_HOST",
        config.host,
        below(clusterPath, config.host),
        ["HostSystem"],
        "host of that cluster",
        signal,
      );
  } else if (config.host !== undefined) {
    // A standalone host is a ComputeResource holding one HostSystem of the same name.
    const found = await findTyped(
      client,
      "GOVC_HOST",
      config.host,
      below(`${dc.path}/host`, config.host),
      ["ComputeResource", "HostSystem"],
      "standalone host",
      signal,
    );
    if (found.type === "ComputeResource") {
      const cr = await computeResource(client, found, signal);
      pool = cr.pool;
      host = cr.hosts[0];
    } else {
      host = found;
      const parent = readRef((await retrieveObject(client, found, ["parent"], signal))?.props.get("parent"));
      if (parent !== undefined) pool = (await computeResource(client, parent, signal)).pool;
    }
  } else {
    const children = await retrieveProperties(
      client,
      [{ type: "ComputeResource", pathSet: ["name", "resourcePool"] }],
      [{ obj: dc.hostFolder, skip: true, selectSet: [{ name: "children", type: "Folder", path: "childEntity" }] }],
      signal,
    );
    if (children.length !== 1) {
      const names = children.map((c) => readString(c.props.get("name")) ?? showRef(c.obj));
      throw new PlacementProblem(
        "GOVC_VCLUSTER",
        `GOVC_VCLUSTER and GOVC_HOST are unset and datacenter ${dc.path} does not have exactly one cluster or host (found: ${names.join(", ") || "none"}); set one of them`,
      );
    }
    pool = readRef(children[0]!.props.get("resourcePool"));
  }
  if (pool === undefined)
    throw new PlacementProblem(
      config.cluster !== undefined ? "GOVC_VCLUSTER" : "GOVC_HOST",
      "the chosen cluster or host has no resource pool",
    );
  return { pool, host, cluster };
}

/** Template, datastore and pool; throws PlacementProblems naming every one that is wrong. */
export async function resolvePlacement(
  client: VimClient,
  config: VsphereProviderConfig,
  dc: Datacenter,
  signal: AbortSignal,
): Promise<Placement> {
  const problems: PlacementProblem[] = [];
  const attempt = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof PlacementProblem)) throw err;
      problems.push(err);
      return undefined;
    }
  };
  const template = await attempt(() =>
    findTyped(
      client,
      "GOVC_TEMPLATE",
      config.template,
      below(`${dc.path}/vm`, config.template),
      ["VirtualMachine"],
      "VM template",
      signal,
    ),
  );
  const datastore =
    config.datastore === undefined || config.drs
      ? undefined
      : await attempt(() =>
          findTyped(
            client,
            "GOVC_DATASTORE",
            config.datastore!,
            below(`${dc.path}/datastore`, config.datastore!),
            ["Datastore"],
            "datastore",
            signal,
          ),
        );
  const pool = await attempt(() => resolvePool(client, config, dc, signal));
  if (problems.length > 0) throw new PlacementProblems(problems);
  return { template: template!, cluster: pool!.cluster, pool: pool!.pool, host: pool!.host, datastore };
}
