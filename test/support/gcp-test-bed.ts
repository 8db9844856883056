// A GCP provider wired to a fresh fake Compute Engine endpoint, with short retry and poll
// intervals so tests run in milliseconds. The endpoint's CA is added to this process's default
// trust (as NODE_EXTRA_CA_CERTS does for the daemon) for as long as the bed lives.
import tls from "node:tls";
import pino from "pino";
import { afterAll, beforeAll } from "vitest";
import { gcpProviderConfig } from "../../providers/gcp/config.ts";
import { GcpProvider } from "../../providers/gcp/provider.ts";
import type { CreateVmRequest } from "../../providers/provider.ts";
import { FakeGce, type FakeGceOptions } from "./fake-gce.ts";
import { type VmRequestOptions, vmRequest } from "./vm-request.ts";

export const TEST_OWNER = { node: "worker-a.example.internal", cluster: "Cluster-1" } as const;

export interface GcpTestBed {
  readonly fake: FakeGce;
  readonly provider: GcpProvider;
  /** Another provider on the same endpoint: the daemon after a restart, or other settings. */
  restarted(env?: Record<string, string | undefined>): GcpProvider;
  request(
    name: string,
    options?: Pick<VmRequestOptions, "sandboxId" | "token" | "resources" | "node">,
  ): CreateVmRequest;
  close(): Promise<void>;
}

export async function gcpTestBed(
  options: { fake?: FakeGceOptions; env?: Record<string, string | undefined> } = {},
): Promise<GcpTestBed> {
  const fake = await FakeGce.start(options.fake);
  const before = tls.getCACertificates("default");
  tls.setDefaultCACertificates([...before, fake.caPem]);
  const made: GcpProvider[] = [];
  const make = (env: Record<string, string | undefined> = {}) => {
    const all = { ...fake.env(), ...options.env, ...env };
    const p = new GcpProvider(gcpProviderConfig(all), pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }), {
      env: all,
      retryDelayMs: 20,
      pollIntervalMs: 20,
    });
    made.push(p);
    return p;
  };
  const provider = make();
  return {
    fake,
    provider,
    restarted: (env) => make(env),
    request: (name, o = {}) =>
      vmRequest(name, o, {
        ...TEST_OWNER,
        sandboxId: `${name}-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab`,
      }),
    async close() {
      await Promise.all(made.map((p) => p.close()));
      await fake.close();
      tls.setDefaultCACertificates(before);
    },
  };
}

/**
 * One bed for all the tests of a file: made before the first, closed after the last. The object
 * returned stands for it from the start (its members are read when a test runs).
 */
export function gcpTestBedPerFile(options: Parameters<typeof gcpTestBed>[0] = {}): GcpTestBed {
  let made: GcpTestBed | undefined;
  beforeAll(async () => {
    made = await gcpTestBed(options);
  }, 60_000);
  afterAll(async () => {
    await made?.close();
  });
  const bed = (): GcpTestBed => {
    if (made === undefined) throw new Error("the gcp test bed is made before the file's first test");
    return made;
  };
  return {
    get fake() {
      return bed().fake;
    },
    get provider() {
      return bed().provider;
    },
    restarted: (env) => bed().restarted(env),
    request: (name, o) => bed().request(name, o),
    close: () => bed().close(),
  };
}
