// The Entra ID credential for the configured sign-in: client secret, workload identity (a
// federated service-account token) or managed identity, each the way Azure users set them up.
import type { TokenCredential } from "@azure/core-auth";
import type { TlsSettings } from "@azure/core-rest-pipeline";
import { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";
import type { AzureCredentialConfig } from "./config.ts";

export interface CredentialTransport {
  /** Undefined: the public cloud, whose authority the library validates by instance discovery. */
  readonly authorityHost: string | undefined;
  readonly tlsOptions: TlsSettings | undefined;
}

export function createCredential(config: AzureCredentialConfig, transport: CredentialTransport): TokenCredential {
  const common = {
    ...(transport.tlsOptions === undefined ? {} : { tlsOptions: transport.tlsOptions }),
    ...(transport.authorityHost === undefined
      ? {}
      : // A sovereign or private authority: the library would otherwise first ask the public
        // cloud whether this authority is known, which fails offline and in sovereign clouds.
        { authorityHost: transport.authorityHost, disableInstanceDiscovery: true }),
  };
  switch (config.kind) {
    case "client-secret":
      return new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, common);
    case "workload-identity":
      return new WorkloadIdentityCredential({
        ...common,
        tenantId: config.tenantId,
        clientId: config.clientId,
        tokenFilePath: config.tokenFile,
      });
    case "managed-identity":
      return config.clientId === undefined
        ? new ManagedIdentityCredential(common)
        : new ManagedIdentityCredential({ ...common, clientId: config.clientId });
  }
}

/** Names the sign-in for logs and errors, without secrets. */
export function describeCredential(config: AzureCredentialConfig): string {
  switch (config.kind) {
    case "client-secret":
      return `client secret of application ${config.clientId} in tenant ${config.tenantId}`;
    case "workload-identity":
      return `workload identity of application ${config.clientId} in tenant ${config.tenantId} (token file ${config.tokenFile})`;
    case "managed-identity":
      return config.clientId === undefined
        ? "the VM's system-assigned managed identity"
        : `user-assigned managed identity ${config.clientId}`;
  }
}
