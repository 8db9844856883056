// The cluster mark every VM carries (peerpods.cluster): CLUSTER_NAME for people, plus an id
// unique to the cluster, so that clusters sharing a cloud account, with the same CLUSTER_NAME
// (the shipped overlays all say "default") and node names in common, never take each other's
// VMs for orphans. The id is CLUSTER_ID when set, else the one kept in the state folder (so a
// node's VMs keep their mark across restarts, whatever the API answers), else the kube-system
// namespace's UID when in a cluster, else a random one; it is kept for the next start.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";

export const CLUSTER_ID_FILE = "cluster-id";

export interface ClusterIdentityOptions {
  readonly clusterName: string;
  /** CLUSTER_ID, when the operator set it. */
  readonly clusterId: string | undefined;
  readonly stateDir: string;
  /** The kube-system namespace's UID; undefined when no Kubernetes API is configured. Throws
   * when the API is configured but does not answer. */
  readonly kubeSystemUid: () => Promise<string | undefined>;
}

export interface ClusterIdentity {
  /** The value of the cluster mark: `<CLUSTER_NAME>/<id>`. */
  readonly mark: string;
  /** Where the id came from, for the log. */
  readonly origin: "CLUSTER_ID" | "state" | "kube-system namespace" | "generated";
}

export async function resolveClusterIdentity(o: ClusterIdentityOptions): Promise<ClusterIdentity> {
  const file = path.join(o.stateDir, CLUSTER_ID_FILE);
  const kept = await fs.readFile(file, "utf8").then(
    (t) => t.trim() || undefined,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    },
  );
  let id: string;
  let origin: ClusterIdentity["origin"];
  if (o.clusterId !== undefined && o.clusterId !== "") [id, origin] = [o.clusterId, "CLUSTER_ID"];
  else if (kept !== undefined) [id, origin] = [kept, "state"];
  else {
    let uid: string | undefined;
    try {
      uid = await o.kubeSystemUid();
    } catch (err) {
      throw new Error(
        `cannot learn this cluster's identity (the kube-system namespace's UID), which marks its peer VMs: ${(err as Error).message}; ` +
          "let the daemon's service account get namespaces, or set CLUSTER_ID",
        { cause: err },
      );
    }
    [id, origin] = uid !== undefined ? [uid, "kube-system namespace"] : [randomUUID(), "generated"];
  }
  if (id !== kept) await writeFileAtomic(file, `${id}\n`);
  return { mark: `${o.clusterName}/${id}`, origin };
}
