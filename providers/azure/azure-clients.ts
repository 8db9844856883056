// The SDK clients the provider talks through, all sharing one credential and one pipeline
// shape: the configured Resource Manager endpoint, tokens for that endpoint's audience, and
// the SDK's own retries (429 with Retry-After, 5xx, dropped connections) bounded by each
// call's abort signal.
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import type { TokenCredential } from "@azure/core-auth";
import type { TlsSettings } from "@azure/core-rest-pipeline";

export interface ClientTuning {
  /** PEM CA certificates to trust instead of the system's (a private endpoint). */
  readonly trustedCa: string | undefined;
  /** Base delay of the SDK's retries of failed requests (doubles each time). */
  readonly retryDelayMs: number;
  /** Most retries of one request; the call's deadline usually ends them first. */
  readonly maxRetries: number;
}

export class AzureClients {
  readonly credential: TokenCredential;
  readonly subscriptionId: string;
  private readonly endpoint: string;
  private readonly tuning: ClientTuning;
  private readonly compute = new Map<string, ComputeManagementClient>();
  private readonly network = new Map<string, NetworkManagementClient>();

  constructor(credential: TokenCredential, subscriptionId: string, endpoint: string, tuning: ClientTuning) {
    this.credential = credential;
    this.subscriptionId = subscriptionId;
    this.endpoint = endpoint;
    this.tuning = tuning;
  }

  /** Compute client for a subscription (default: the provider's). */
  computeFor(subscriptionId = this.subscriptionId): ComputeManagementClient {
    const key = subscriptionId.toLowerCase();
    let c = this.compute.get(key);
    if (c === undefined) {
      c = new ComputeManagementClient(this.credential, subscriptionId, this.options());
      this.compute.set(key, c);
    }
    return c;
  }

  /** Network client for a subscription (the subnet may live in another one). */
  networkFor(subscriptionId = this.subscriptionId): NetworkManagementClient {
    const key = subscriptionId.toLowerCase();
    let c = this.network.get(key);
    if (c === undefined) {
      c = new NetworkManagementClient(this.credential, subscriptionId, this.options());
      this.network.set(key, c);
    }
    return c;
  }

  private options() {
    const tlsOptions: TlsSettings | undefined =
      this.tuning.trustedCa === undefined ? undefined : { ca: this.tuning.trustedCa };
    return {
      endpoint: this.endpoint,
      // Tokens are for the Resource Manager the requests go to (sovereign clouds differ).
      credentials: { scopes: [`${new URL(this.endpoint).origin}/.default`] },
      retryOptions: {
        maxRetries: this.tuning.maxRetries,
        retryDelayInMs: this.tuning.retryDelayMs,
        maxRetryDelayInMs: 30_000,
      },
      ...(tlsOptions === undefined ? {} : { tlsOptions }),
    };
  }
}
