// The SDK client: region from the configuration or the worker's metadata, the endpoint override,
// static keys or the SDK's default credential chain, and the SDK's adaptive retry (throttling
// and 5xx), which every call bounds with its deadline by passing `abortSignal`.
import { EC2Client } from "@aws-sdk/client-ec2";
import type { AwsProviderConfig } from "./config.ts";

export function createEc2Client(config: AwsProviderConfig, region: string): EC2Client {
  return new EC2Client({
    region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: config.credentials.accessKeyId,
            secretAccessKey: config.credentials.secretAccessKey,
            ...(config.credentials.sessionToken === undefined ? {} : { sessionToken: config.credentials.sessionToken }),
          },
        }),
    retryMode: "adaptive",
    maxAttempts: config.maxAttempts,
    // A hung connection must not hold a call forever when its deadline is far away.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
}
