// Where peer VMs go: region, subnet and security groups from the configuration, and whatever is
// unset from the worker's own metadata (IMDSv2), as a user running on EC2 expects. Off EC2 the
// metadata service does not answer; every unset value is then a configuration error naming its
// variable (a subnet and security groups are needed anyway, so the worker can reach the VMs).
// With a launch template the template places the VMs: only the region is needed.
import { ConfigError, InvalidConfigError } from "../../src/config/index.ts";
import type { AwsProviderConfig } from "./config.ts";
import { ImdsClient, readPrimaryInterface, readRegion } from "./imds.ts";

export interface Placement {
  readonly region: string;
  /** Undefined (and no security groups) only with a launch template, which places the VMs. */
  readonly subnetId: string | undefined;
  readonly securityGroupIds: readonly string[];
  /** Which values came from the metadata service, for the start-up log. */
  readonly fromImds: readonly string[];
}

export async function resolvePlacement(
  config: AwsProviderConfig,
  signal: AbortSignal,
  imdsTimeoutMs: number,
): Promise<Placement> {
  const byTemplate = config.launchTemplate !== undefined;
  const missing = [
    config.region === undefined ? "AWS_REGION" : undefined,
    config.subnetId === undefined && !byTemplate ? "AWS_SUBNET_ID" : undefined,
    config.securityGroupIds.length === 0 && !byTemplate ? "AWS_SG_IDS" : undefined,
  ].filter((v): v is string => v !== undefined);
  if (missing.length === 0) {
    return {
      region: config.region!,
      subnetId: byTemplate ? undefined : config.subnetId,
      securityGroupIds: byTemplate ? [] : config.securityGroupIds,
      fromImds: [],
    };
  }
  if (config.imdsEndpoint === undefined) {
    throw unresolved(missing, "the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED)");
  }
  // Only what is unset is asked for, so a partial answer cannot spoil what the operator set.
  const imds = new ImdsClient(config.imdsEndpoint, imdsTimeoutMs);
  try {
    const region = config.region ?? (await readRegion(imds, signal));
    const needsNetwork = !byTemplate && (config.subnetId === undefined || config.securityGroupIds.length === 0);
    const nic = needsNetwork ? await readPrimaryInterface(imds, signal) : undefined;
    if (byTemplate) return { region, subnetId: undefined, securityGroupIds: [], fromImds: missing };
    return {
      region,
      subnetId: config.subnetId ?? nic!.subnetId,
      securityGroupIds: config.securityGroupIds.length > 0 ? config.securityGroupIds : nic!.securityGroupIds,
      fromImds: missing,
    };
  } catch (err) {
    signal.throwIfAborted();
    throw unresolved(missing, (err as Error).message);
  }
}

function unresolved(variables: readonly string[], why: string): InvalidConfigError {
  return new InvalidConfigError(
    variables.map(
      (variable) =>
        new ConfigError({
          variable,
          source: "missing",
          expected: `not set and not learnable from the worker's instance metadata (${why}): set it, or run on an EC2 worker whose IMDSv2 answers`,
        }),
    ),
  );
}
