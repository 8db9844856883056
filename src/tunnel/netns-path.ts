// Whether a path names a live network namespace. A netns path is a bind mount of an nsfs inode
// (/run/netns/x) or a /proc/<pid>/ns/net link; once the namespace is released, the path is
// gone or (a bind mount undone without removing its file) a plain file on another file system.
import { stat, statfs } from "node:fs/promises";

const NSFS_MAGIC = 0x6e736673;

export type NetnsPathState = "namespace" | "missing" | "not-a-namespace";

export async function netnsPathState(path: string): Promise<NetnsPathState> {
  try {
    return (await statfs(path)).type === NSFS_MAGIC ? "namespace" : "not-a-namespace";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") return "missing";
    throw err;
  }
}

/** Throws a message naming the pod's namespace when `path` is no live namespace. */
export async function requirePodNetns(path: string): Promise<void> {
  if (!path.startsWith("/")) throw new Error(`pod network namespace "${path}" is not an absolute path`);
  const state = await netnsPathState(path);
  if (state === "missing") throw new Error(`pod network namespace ${path} does not exist`);
  if (state === "not-a-namespace")
    throw new Error(`pod network namespace ${path} is not a namespace (a file left after the namespace was released?)`);
}

/**
 * Throws when `path` names the same namespace as `nodeNetns` (the one holding the node's
 * interfaces): tc would redirect the node's own uplink into the tunnel and cut the node off.
 * A path that is not (yet) a namespace passes: StartVM reports that itself.
 */
export async function refuseNodeNetns(path: string, nodeNetns: string): Promise<void> {
  if ((await netnsPathState(path)) !== "namespace") return;
  const [pod, node] = await Promise.all([stat(path), stat(nodeNetns)]);
  if (pod.dev === node.dev && pod.ino === node.ino) {
    throw new Error(
      `pod network namespace ${path} is the daemon's own network namespace, not a pod's: refusing to redirect the node's traffic into a tunnel`,
    );
  }
}
