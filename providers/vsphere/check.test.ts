// The start-up check against the simulator: login, and every inventory name resolved, or a
// ProviderError naming each variable that names nothing (and nothing else).
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVcsim, type Vcsim, vsphereEnv } from "../../test/support/vcsim.ts";
import { ProviderError } from "../provider.ts";
import { vsphereProviderConfig } from "./config.ts";
import { VsphereProvider } from "./provider.ts";

let single: Vcsim; // one cluster, two datastores, a "peerpods" folder
let mixed: Vcsim; // a cluster and a standalone host
const providers: VsphereProvider[] = [];

beforeAll(async () => {
  [single, mixed] = await Promise.all([
    startVcsim({ datastores: 2, vmFolder: "peerpods" }),
    startVcsim({ clusters: 1, clusterHosts: 2, hosts: 1 }),
  ]);
});
afterAll(async () => {
  for (const p of providers) await p.close();
  await Promise.all([single?.stop(), mixed?.stop()]);
});

function provider(env: Record<string, string | undefined>): VsphereProvider {
  const p = new VsphereProvider(vsphereProviderConfig(env), { logger: pino({ level: "silent" }) });
  providers.push(p);
  return p;
}

async function checkFailure(env: Record<string, string | undefined>): Promise<ProviderError> {
  try {
    await provider(env).check(AbortSignal.timeout(15_000));
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error("check unexpectedly passed");
}

describe("vSphere start-up check", () => {
  it("passes with govc's fallbacks: the datacenter's VM folder and its only cluster", async () => {
    await provider(vsphereEnv(single)).check(AbortSignal.timeout(15_000));
  });

  it("passes with every setting given explicitly", async () => {
    const env = vsphereEnv(single, {
      GOVC_TEMPLATE: "podvm-template",
      GOVC_DATASTORE: "LocalDS_1",
      GOVC_FOLDER: "peerpods",
      GOVC_VCLUSTER: "DC0_C0",
      GOVC_HOST: "DC0_C0_H0",
    });
    await provider(env).check(AbortSignal.timeout(15_000));
  });

  it("names every setting that names nothing, each with its value and path", async () => {
    const err = await checkFailure(
      vsphereEnv(single, {
        GOVC_TEMPLATE: "no-template",
        GOVC_DATASTORE: "no-ds",
        GOVC_FOLDER: "no-folder",
        GOVC_VCLUSTER: "no-cluster",
      }),
    );
    expect(err.message).toContain(`GOVC_FOLDER=no-folder: no VM folder at inventory path "DC0/vm/no-folder"`);
    expect(err.message).toContain(`GOVC_TEMPLATE=no-template: no VM template at inventory path "DC0/vm/no-template"`);
    expect(err.message).toContain(`GOVC_DATASTORE=no-ds: no datastore at inventory path "DC0/datastore/no-ds"`);
    expect(err.message).toContain(`GOVC_VCLUSTER=no-cluster: no cluster at inventory path "DC0/host/no-cluster"`);
    expect(err.retryable).toBe(false);
  });

  it("says what it found when a path names the wrong kind of object", async () => {
    const err = await checkFailure(vsphereEnv(single, { GOVC_TEMPLATE: "/DC0/datastore/LocalDS_0" }));
    expect(err.message).toContain(`no VM template at inventory path "DC0/datastore/LocalDS_0" (found a Datastore)`);
  });

  it("names a datacenter that does not exist", async () => {
    const err = await checkFailure(vsphereEnv(single, { GOVC_DATACENTER: "DC9" }));
    expect(err.message).toContain(`GOVC_DATACENTER=DC9: no datacenter at inventory path "DC9"`);
  });

  it("asks for GOVC_VCLUSTER or GOVC_HOST when the datacenter has several, and accepts either", async () => {
    const err = await checkFailure(vsphereEnv(mixed));
    expect(err.message).toMatch(
      /GOVC_VCLUSTER and GOVC_HOST are unset and datacenter DC0 does not have exactly one cluster or host \(found: (DC0_C0, DC0_H0|DC0_H0, DC0_C0)\)/,
    );
    await provider(vsphereEnv(mixed, { GOVC_VCLUSTER: "DC0_C0" })).check(AbortSignal.timeout(15_000));
    await provider(vsphereEnv(mixed, { GOVC_HOST: "DC0_H0" })).check(AbortSignal.timeout(15_000));
    await provider(vsphereEnv(mixed, { GOVC_VCLUSTER: "DC0_C0", GOVC_HOST: "DC0_C0_H1" })).check(
      AbortSignal.timeout(15_000),
    );
    const notInCluster = await checkFailure(vsphereEnv(mixed, { GOVC_VCLUSTER: "DC0_C0", GOVC_HOST: "DC0_H0" }));
    expect(notInCluster.message).toContain(
      `GOVC_HOST=DC0_H0: no host of that cluster at inventory path "DC0/host/DC0_C0/DC0_H0"`,
    );
  });

  it("reports a refused login naming the user, not the password", async () => {
    const err = await checkFailure(vsphereEnv(single, { GOVC_PASSWORD: "wrong-password" }));
    expect(err.message).toContain(`refused the login of GOVC_USERNAME=${single.username} (InvalidLogin)`);
    expect(err.message).not.toContain("wrong-password");
    expect(err.retryable).toBe(false);
  });

  it("refuses a server whose certificate does not match GOVC_THUMBPRINT, and one it cannot verify", async () => {
    const pinned = await checkFailure(vsphereEnv(single, { GOVC_THUMBPRINT: "AA".repeat(20) }));
    expect(pinned.message).toContain(`has SHA-1 thumbprint ${single.thumbprint}`);
    expect(pinned.message).toContain("GOVC_THUMBPRINT");
    expect(pinned.retryable).toBe(false);
    const unverified = await checkFailure(vsphereEnv(single, { GOVC_THUMBPRINT: undefined }));
    expect(unverified.message).toMatch(/TLS handshake .* failed/);
    await provider(vsphereEnv(single, { GOVC_THUMBPRINT: undefined, GOVC_INSECURE: "true" })).check(
      AbortSignal.timeout(15_000),
    );
  });

  it("reports an unreachable server as worth retrying, naming GOVC_URL", async () => {
    const err = await checkFailure(vsphereEnv(single, { GOVC_URL: "https://127.0.0.1:1/sdk" }));
    expect(err.message).toContain("GOVC_URL");
    expect(err.message).toContain("cannot reach https://127.0.0.1:1");
    expect(err.retryable).toBe(true);
  });
});
