// An Azure provider wired to a fresh fake Azure endpoint, trusting its CA through the SDK's
// pipeline, with short poll and retry intervals so tests run in milliseconds.
import pino from "pino";
import { azureProviderConfig } from "../../providers/azure/config.ts";
import { AzureProvider } from "../../providers/azure/provider.ts";
import type { CreateVmRequest } from "../../providers/provider.ts";
import { FakeArm, type FakeArmOptions } from "./fake-arm.ts";
import { type VmRequestOptions, vmRequest } from "./vm-request.ts";

export const TEST_OWNER = { node: "worker-a", cluster: "cluster-1" } as const;

export interface AzureTestBed {
  readonly fake: FakeArm;
  readonly provider: AzureProvider;
  /** Another provider on the same endpoint: the daemon after a restart, or other settings. */
  restarted(env?: Record<string, string | undefined>): AzureProvider;
  /** A create request for `name`, owned by sandbox `sandboxId` on TEST_OWNER's node. */
  request(name: string, options?: VmRequestOptions): CreateVmRequest;
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
    request: (name, o = {}) => vmRequest(name, o, { ...TEST_OWNER, sandboxId: `sandbox-${name}` }),
    async close() {
      await provider.close();
      await fake.close();
    },
  };
}
