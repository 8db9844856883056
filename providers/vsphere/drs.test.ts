import pino from "pino";
import { describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import { vsphereEnv } from "../../test/support/vcsim.ts";
import { useVsphereTestBed } from "../../test/support/vsphere-test-bed.ts";
import type { CreateVmRequest } from "../provider.ts";
import { vsphereProviderConfig } from "./config.ts";
import type { VsphereProvider } from "./provider.ts";
import { findByInventoryPath, readRef, readRefs, retrieveObject } from "./vim/index.ts";

// A standalone host beside the cluster: a clone may only land on it if GOVC_HOST were used.
const bed = useVsphereTestBed({
  prefix: "vsphere-drs",
  vcsim: { clusters: 1, clusterHosts: 3, hosts: 1, datastores: 2, vmFolder: "peerpods" },
  env: { GOVC_FOLDER: "peerpods", GOVC_VCLUSTER: "DC0_C0", GOVC_HOST: "DC0_H0", GOVC_DATASTORE: "LocalDS_1" },
});

function provider(extra: Record<string, string | undefined>, logs?: Record<string, unknown>[]): VsphereProvider {
  const logger =
    logs === undefined
      ? undefined
      : pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  return bed.provider(extra, logger);
}

const deadline = (ms = 30_000): AbortSignal => AbortSignal.timeout(ms);

function vmRequest(n: number): CreateVmRequest {
  const sandboxId = `drs-sandbox-${n}`;
  return {
    name: `podvm-drs-${n}`,
    token: `token-${n}`,
    owner: { sandboxId, node: "worker-1", cluster: "cluster-a" },
    resources: { instanceType: undefined, vcpus: undefined, memoryMiB: undefined, gpus: undefined, image: undefined },
    userData: buildUserData({ version: 1, sandboxId, listenPort: 15150, tls: undefined, podNetwork: undefined }),
  };
}

describe("GOVC_DRS", () => {
  it("places each clone where the cluster's DRS recommends, not on GOVC_HOST or GOVC_DATASTORE", async () => {
    const logs: Record<string, unknown>[] = [];
    const p = provider({ GOVC_DRS: "true" }, logs);
    await p.check(deadline());
    expect(
      logs.find((l) => String(l.msg).startsWith("GOVC_DRS=true: GOVC_HOST and GOVC_DATASTORE not used")),
    ).toBeDefined();

    const req = vmRequest(1);
    await p.createVm(req, deadline(60_000));
    const placed = logs.find((l) => l.msg === "DRS placement" && l.vm === req.name) as
      | { host: string; datastore: string; pool: string }
      | undefined;
    expect(placed).toBeDefined();

    const vm = (await findByInventoryPath(bed.admin, `DC0/vm/peerpods/${req.name}`, deadline()))!;
    const facts = await retrieveObject(bed.admin, vm, ["runtime.host", "datastore", "resourcePool"], deadline());
    const host = readRef(facts?.props.get("runtime.host"))!;
    const cluster = (await findByInventoryPath(bed.admin, "DC0/host/DC0_C0", deadline()))!;
    const clusterHosts = readRefs((await retrieveObject(bed.admin, cluster, ["host"], deadline()))?.props.get("host"));
    // The clone runs where DRS said, which is a host of the cluster (not the standalone GOVC_HOST).
    expect(host.value).toBe(placed!.host);
    expect(clusterHosts.map((h) => h.value)).toContain(host.value);
    expect(readRefs(facts?.props.get("datastore")).map((d) => d.value)).toEqual([placed!.datastore]);
    expect(readRef(facts?.props.get("resourcePool"))?.value).toBe(placed!.pool);
    await p.deleteVm({ id: undefined, name: req.name, owner: req.owner }, deadline());
  });

  it("without DRS takes GOVC_HOST literally: a host outside GOVC_VCLUSTER stops start-up", async () => {
    const err = await rejection(provider({}).check(deadline()));
    expect(err.message).toMatch(/GOVC_HOST=DC0_H0: no host of that cluster/);
  });

  it("needs GOVC_VCLUSTER", () => {
    expect(() => vsphereProviderConfig(vsphereEnv(bed.sim, { GOVC_DRS: "true" }))).toThrow(
      /GOVC_VCLUSTER: .*required with GOVC_DRS=true/,
    );
  });
});
