// Sizes of instance types, from DescribeInstanceTypes, asked once per type and kept: they do
// not change while the daemon runs.
import {
  type _InstanceType,
  DescribeInstanceTypesCommand,
  type EC2Client,
  type InstanceTypeInfo,
} from "@aws-sdk/client-ec2";
import type { InstanceTypeSpec } from "../instance-types.ts";
import { ProviderError } from "../provider.ts";
import { explainEc2Error, type SettingHint } from "./ec2-errors.ts";

export interface InstanceTypeFacts extends InstanceTypeSpec {
  /** The type can run AMD SEV-SNP confidential VMs. */
  readonly sevSnp: boolean;
}

export class InstanceTypeCatalog {
  private readonly known = new Map<string, InstanceTypeFacts>();

  /** Facts for every name, in order; an unknown name is an error naming `hint`. */
  async lookup(
    client: EC2Client,
    names: readonly string[],
    hint: SettingHint,
    signal: AbortSignal,
  ): Promise<InstanceTypeFacts[]> {
    const missing = [...new Set(names.filter((n) => !this.known.has(n)))];
    // DescribeInstanceTypes takes up to 100 names per call.
    for (let i = 0; i < missing.length; i += 100) {
      const batch = missing.slice(i, i + 100);
      let found: InstanceTypeInfo[];
      try {
        const out = await client.send(new DescribeInstanceTypesCommand({ InstanceTypes: batch as _InstanceType[] }), {
          abortSignal: signal,
        });
        found = out.InstanceTypes ?? [];
      } catch (err) {
        throw explainEc2Error(err, "DescribeInstanceTypes", signal, { instanceType: hint });
      }
      for (const info of found) if (info.InstanceType !== undefined) this.known.set(info.InstanceType, factsOf(info));
    }
    const absent = names.filter((n) => !this.known.has(n));
    if (absent.length > 0) {
      throw new ProviderError(
        `${hint.variable}=${hint.value}: EC2 does not offer instance type(s) ${absent.join(", ")} in this region`,
      );
    }
    return names.map((n) => this.known.get(n)!);
  }
}

function factsOf(info: InstanceTypeInfo): InstanceTypeFacts {
  return {
    name: info.InstanceType ?? "",
    vcpus: info.VCpuInfo?.DefaultVCpus ?? 0,
    memoryMiB: info.MemoryInfo?.SizeInMiB ?? 0,
    gpus: (info.GpuInfo?.Gpus ?? []).reduce((sum, g) => sum + (g.Count ?? 0), 0),
    sevSnp: (info.ProcessorInfo?.SupportedFeatures ?? []).includes("amd-sev-snp"),
  };
}
