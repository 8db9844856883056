import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveClusterIdentity } from "./cluster-identity.ts";

let stateDir: string;
beforeEach(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "cluster-identity-"));
});
afterEach(() => fs.rm(stateDir, { recursive: true, force: true }));

const base = { clusterName: "default", clusterId: undefined, kubeSystemUid: async () => undefined };

describe("resolveClusterIdentity", () => {
  it("takes the kube-system namespace's UID in a cluster, and keeps it for the next start whatever the API says then", async () => {
    const first = await resolveClusterIdentity({ ...base, stateDir, kubeSystemUid: async () => "0b7c-uid" });
    expect(first).toEqual({ mark: "default/0b7c-uid", origin: "kube-system namespace" });
    const again = await resolveClusterIdentity({
      ...base,
      stateDir,
      kubeSystemUid: () => Promise.reject(new Error("API down")),
    });
    expect(again).toEqual({ mark: "default/0b7c-uid", origin: "state" });
  });

  it("outside a cluster makes a random id once and keeps it; CLUSTER_ID wins over both", async () => {
    const made = await resolveClusterIdentity({ ...base, stateDir });
    expect(made.origin).toBe("generated");
    expect(made.mark).toMatch(/^default\/[0-9a-f-]{36}$/);
    expect(await resolveClusterIdentity({ ...base, stateDir })).toEqual({ mark: made.mark, origin: "state" });
    expect(await resolveClusterIdentity({ ...base, stateDir, clusterName: "prod", clusterId: "eu-1" })).toEqual({
      mark: "prod/eu-1",
      origin: "CLUSTER_ID",
    });
    expect((await fs.readFile(path.join(stateDir, "cluster-id"), "utf8")).trim()).toBe("eu-1");
  });

  it("fails naming the way out when the API is configured but does not answer, and keeps nothing", async () => {
    const err = await resolveClusterIdentity({
      ...base,
      stateDir,
      kubeSystemUid: () => Promise.reject(new Error("reading namespace kube-system: 403 Forbidden")),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      "cannot learn this cluster's identity (the kube-system namespace's UID), which marks its peer VMs: reading namespace kube-system: 403 Forbidden; let the daemon's service account get namespaces, or set CLUSTER_ID",
    );
    await expect(fs.access(path.join(stateDir, "cluster-id"))).rejects.toThrow(/ENOENT/);
  });
});
