// Where peer VMs go: region, subnet and security groups from the configuration, and whatever is
// unset from the worker's own metadata (IMDSv2), as a user running on EC2 expects. Off EC2 the
// metadata service does not answer; every unset value is then a configuration error naming its
// variable (a subnet and security groups are needed anyway, so the worker can reach the VMs).
import { ConfigError, InvalidConfigError } from "../../src/config/index.ts";
import type { AwsProviderConfig } from "./config.ts";
import { ImdsClient, readPrimaryInterface, readRegion } from "./imds.ts";

export interface Placement {
  readonly region: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  /** Which values came from the metadata service, for the start-up log. */
  readonly fromImds: readonly string[];
}

export async function resolvePlacement(
  config: AwsProviderConfig,
  signal: AbortSignal,
  imdsTimeoutMs: number,
): Promise<Placement> {
  const missing = [
    config.region === undefined ? "AWS_REGION" : undefined,
    config.subnetId === undefined ? "AWS_SUBNET_ID" : undefined,
    config.securityGroupIds.length === 0 ? "AWS_SG_IDS" : undefined,
  ].filter((v): v is string => v !== undefined);
  if (missing.length === 0) {
    return {
      region: config.region!,
      subnetId: config.subnetId!,
      securityGroupIds: config.securityGroupIds,
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
    const needsNetwork = config.subnetId === undefined || config.securityGroupIds.length === 0;
    const nic = needsNetwork ? await readPrimaryInterface(imds, signal) : undefined;
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
