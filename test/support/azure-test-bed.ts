// An Azure provider wired to a fresh fake Azure endpoint, trusting its CA through the SDK's
// pipeline, with short poll and retry intervals so tests run in milliseconds.
import pino from "pino";
import { azureProviderConfig } from "../../providers/azure/config.ts";
import { AzureProvider } from "../../providers/azure/provider.ts";
import type { CreateVmRequest, ResourceRequest } from "../../providers/provider.ts";
import { FakeArm, type FakeArmOptions } from "./fake-arm.ts";

export const TEST_OWNER = { node: "worker-a", cluster: "cluster-1" } as const;

export interface AzureTestBed {
  readonly fake: FakeArm;
  readonly provider: AzureProvider;
  /** Another provider on the same endpoint: the daemon after a restart, or other settings. */
  restarted(env?: Record<string, string | undefined>): AzureProvider;
  /** A create request for `name`, owned by sandbox `sandboxId` on TEST_OWNER's node. */
  request(
    name: string,
    options?: {
      sandboxId?: string;
      token?: string;
      resources?: Partial<ResourceRequest>;
      userData?: string;
      node?: string;
      cluster?: string;
    },
  ): CreateVmRequest;
  close(): Promise<void>;
}

export async function azureTestBed(
  options: { fake?: FakeArmOptions; env?: Record<string, string | undefined> } = {},
): Promise<AzureTestBed> {
  const fake = await FakeArm.start(options.fake);
  const make = (env: Record<string, string | undefined> = {}) =>
    new AzureProvider(
      azureProviderConfig({ ...fake.env(), ...options.env, ...env }),
      pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
      {
        trustedCa: fake.caPem,
        pollIntervalMs: 20,
        retryDelayMs: 20,
      },
    );
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
          sandboxId: o.sandboxId ?? `sandbox-${name}`,
          node: o.node ?? TEST_OWNER.node,
          cluster: o.cluster ?? TEST_OWNER.cluster,
        },
        resources: {
          instanceType: undefined,
          vcpus: undefined,
          memoryMiB: undefined,
          gpus: undefined,
          image: undefined,
          ...o.resources,
        },
        userData:
          o.userData ??
          `#cloud-config\nwrite_files:\n- path: /run/peerpod/daemon.json\n  content: '{"sandbox":"${name}"}'\n`,
      };
    },
    async close() {
      await provider.close();
      await fake.close();
    },
  };
}
