// The Compute Engine instance for one peer VM: boot disk from the pod VM image (deleted with
// the instance), the pod's user-data in the `user-data` metadata key (cloud-init's GCE data
// source reads it), ownership labels on instance and disk with the full owner in metadata,
// Shielded VM defaults, and, unless DISABLECVM, the confidential-instance settings.
import type { protos } from "@google-cloud/compute";
import type { Ownership } from "../provider.ts";
import type { ConfidentialType } from "./config.ts";
import { OWNER_KEYS, ownerDescription, ownerLabels, ownerMetadata } from "./ownership.ts";

type Instance = protos.google.cloud.compute.v1.IInstance;

/** Metadata key holding the daemon's VM token, to tell this attempt's VM from a stale one. */
export const TOKEN_KEY = "peerpods-token";

export interface InstanceSpecInput {
  readonly name: string;
  readonly zone: string;
  readonly machineType: string;
  readonly image: string;
  readonly diskType: string;
  readonly diskSizeGiB: number | undefined;
  readonly network: string;
  readonly subnetwork: string | undefined;
  readonly usePublicIp: boolean;
  readonly confidentialType: ConfidentialType | undefined;
  /** GPUs asked for: such machines cannot live-migrate either. */
  readonly gpus: number;
  readonly userData: string;
  readonly owner: Ownership;
  readonly token: string;
  readonly labels: ReadonlyMap<string, string>;
}

export function instanceSpec(i: InstanceSpecInput): Instance {
  const labels = ownerLabels(i.owner, i.labels);
  const confidential = i.confidentialType !== undefined;
  // Confidential VMs and GPU machines cannot live-migrate: maintenance stops them instead.
  const terminateOnMaintenance = confidential || i.gpus > 0;
  return {
    name: i.name,
    machineType: `zones/${i.zone}/machineTypes/${i.machineType}`,
    labels,
    metadata: {
      items: [{ key: "user-data", value: i.userData }, ...ownerMetadata(i.owner), { key: TOKEN_KEY, value: i.token }],
    },
    disks: [
      {
        boot: true,
        autoDelete: true,
        type: "PERSISTENT",
        initializeParams: {
          diskName: i.name,
          sourceImage: i.image,
          diskType: `zones/${i.zone}/diskTypes/${i.diskType}`,
          ...(i.diskSizeGiB === undefined ? {} : { diskSizeGb: i.diskSizeGiB }),
          labels,
          description: ownerDescription(i.owner),
        },
      },
    ],
    networkInterfaces: [
      {
        network: i.network,
        ...(i.subnetwork === undefined ? {} : { subnetwork: i.subnetwork }),
        ...(i.usePublicIp ? { accessConfigs: [{ name: "External NAT", type: "ONE_TO_ONE_NAT" }] } : {}),
      },
    ],
    // Google's Shielded VM defaults: vTPM and integrity monitoring on, secure boot off (pod VM
    // images are not necessarily signed for it).
    shieldedInstanceConfig: { enableSecureBoot: false, enableVtpm: true, enableIntegrityMonitoring: true },
    ...(confidential ? { confidentialInstanceConfig: { confidentialInstanceType: i.confidentialType } } : {}),
    ...(terminateOnMaintenance ? { scheduling: { onHostMaintenance: "TERMINATE" } } : {}),
  };
}

/** The address the forwarder listens on: the primary interface's, or its external one. */
export function instanceAddress(i: Instance, usePublicIp: boolean): string | undefined {
  const nic = i.networkInterfaces?.[0];
  const a = usePublicIp ? nic?.accessConfigs?.find((c) => c.natIP)?.natIP : nic?.networkIP;
  return a === null || a === "" ? undefined : a;
}

export function instanceToken(i: Instance): string | undefined {
  return i.metadata?.items?.find((it) => it.key === TOKEN_KEY)?.value ?? undefined;
}

export { OWNER_KEYS };
