// A GCP provider wired to a fresh fake Compute Engine endpoint, with short retry and poll
// intervals so tests run in milliseconds. The endpoint's CA is added to this process's default
// trust (as NODE_EXTRA_CA_CERTS does for the daemon) for as long as the bed lives.
import tls from "node:tls";
import pino from "pino";
import { gcpProviderConfig } from "../../providers/gcp/config.ts";
import { GcpProvider } from "../../providers/gcp/provider.ts";
import type { CreateVmRequest, ResourceRequest } from "../../providers/provider.ts";
import { FakeGce, type FakeGceOptions } from "./fake-gce.ts";

export const TEST_OWNER = { node: "worker-a.example.internal", cluster: "Cluster-1" } as const;

export interface GcpTestBed {
  readonly fake: FakeGce;
  readonly provider: GcpProvider;
  /** Another provider on the same endpoint: the daemon after a restart, or other settings. */
  restarted(env?: Record<string, string | undefined>): GcpProvider;
  request(
    name: string,
    options?: { sandboxId?: string; token?: string; resources?: Partial<ResourceRequest>; node?: string },
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
    request(name, o = {}) {
      return {
        name,
        token: o.token ?? `token-${name}`,
        owner: {
          sandboxId: o.sandboxId ?? `${name}-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab`,
          node: o.node ?? TEST_OWNER.node,
          cluster: TEST_OWNER.cluster,
        },
        resources: {
          instanceType: undefined,
          vcpus: undefined,
          memoryMiB: undefined,
          gpus: undefined,
          image: undefined,
          ...o.resources,
        },
        userData: `#cloud-config\nwrite_files:\n- path: /run/peerpod/daemon.json\n  content: '{"sandbox":"${name}"}'\n`,
      };
    },
    async close() {
      await Promise.all(made.map((p) => p.close()));
      await fake.close();
      tls.setDefaultCACertificates(before);
    },
  };
}
