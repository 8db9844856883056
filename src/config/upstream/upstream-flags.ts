// The Go daemon's command-line flags (`cloud-api-adaptor <provider> -flag …`, as its images and
// older entrypoints pass them). A flag that has a variable here becomes that variable (flags win
// over variables, as upstream); a flag with no counterpart is dropped with a warning saying
// what the daemon does instead, rather than stopping start-up as an unknown flag.

import type { ConfigSpec } from "../spec.ts";
import type { UpstreamFinding } from "./check-upstream.ts";
import type { UpstreamProvider } from "./upstream-settings.ts";

export interface UpstreamFlag {
  readonly flag: string;
  /** The variable it sets. */
  readonly env?: string;
  readonly bool?: boolean;
  /** Providers whose upstream manager defines it; absent: the daemon's own flag. */
  readonly providers?: readonly UpstreamProvider[];
  /** For a flag without a variable: what happens instead (warned unless at upstream's default). */
  readonly instead?: string;
  readonly upstreamDefault?: string;
}

const flag = (name: string, env: string, providers?: readonly UpstreamProvider[], bool = false): UpstreamFlag => ({
  flag: name,
  env,
  bool,
  ...(providers === undefined ? {} : { providers }),
});

export const UPSTREAM_FLAGS: readonly UpstreamFlag[] = [
  // the daemon (main.go); -socket, -pods-dir, -pause-image, -forwarder-port, -proxy-timeout,
  // -vxlan-port, -vxlan-min-id, -host-interface, -initdata, -cloud-config-verify,
  // -peerpods-limit-per-node, -disable-tls, -ca-cert-file, -cert-file and -cert-key are our
  // own flags too.
  flag("tls-skip-verify", "TLS_SKIP_VERIFY", undefined, true),
  flag("tunnel-type", "TUNNEL_TYPE"),
  flag("enable-scratch-space", "ENABLE_SCRATCH_SPACE", undefined, true),
  flag("secure-comms", "SECURE_COMMS", undefined, true),
  flag("secure-comms-inbounds", "SECURE_COMMS_INBOUNDS"),
  flag("secure-comms-outbounds", "SECURE_COMMS_OUTBOUNDS"),
  flag("secure-comms-pp-inbounds", "SECURE_COMMS_PP_INBOUNDS"),
  flag("secure-comms-pp-outbounds", "SECURE_COMMS_PP_OUTBOUNDS"),
  flag("secure-comms-kbs", "SECURE_COMMS_KBS_ADDR"),
  flag("secure-comms-no-trustee", "SECURE_COMMS_NO_TRUSTEE", undefined, true),
  flag("ext-network-via-podvm", "EXTERNAL_NETWORK_VIA_PODVM", undefined, true),
  flag("pod-subnet-cidrs", "POD_SUBNET_CIDRS"),

  // aws
  flag("aws-access-key-id", "AWS_ACCESS_KEY_ID", ["aws"]),
  flag("aws-secret-key", "AWS_SECRET_ACCESS_KEY", ["aws"]),
  flag("aws-session-token", "AWS_SESSION_TOKEN", ["aws"]),
  flag("aws-region", "AWS_REGION", ["aws"]),
  // The SDK's default credential chain reads AWS_PROFILE.
  flag("aws-profile", "AWS_PROFILE", ["aws"]),
  flag("aws-lt-name", "PODVM_LAUNCHTEMPLATE_NAME", ["aws"]),
  flag("use-lt", "USE_PODVM_LAUNCHTEMPLATE", ["aws"], true),
  flag("imageid", "PODVM_AMI_ID", ["aws"]),
  flag("instance-type", "PODVM_INSTANCE_TYPE", ["aws"]),
  flag("instance-types", "PODVM_INSTANCE_TYPES", ["aws"]),
  flag("securitygroupids", "AWS_SG_IDS", ["aws"]),
  flag("keyname", "SSH_KP_NAME", ["aws"]),
  flag("subnetid", "AWS_SUBNET_ID", ["aws"]),
  flag("tags", "TAGS", ["aws", "azure", "gcp"]),
  flag("use-public-ip", "USE_PUBLIC_IP", ["aws", "azure", "gcp"], true),
  flag("root-volume-size", "ROOT_VOLUME_SIZE", ["aws", "azure", "gcp"]),
  flag("disable-cvm", "DISABLECVM", ["aws", "azure", "gcp", "libvirt"], true),

  // azure
  flag("clientid", "AZURE_CLIENT_ID", ["azure"]),
  flag("secret", "AZURE_CLIENT_SECRET", ["azure"]),
  flag("tenantid", "AZURE_TENANT_ID", ["azure"]),
  flag("subscriptionid", "AZURE_SUBSCRIPTION_ID", ["azure"]),
  flag("resourcegroup", "AZURE_RESOURCE_GROUP", ["azure"]),
  flag("region", "AZURE_REGION", ["azure"]),
  flag("subnetid", "AZURE_SUBNET_ID", ["azure"]),
  flag("securitygroupid", "AZURE_NSG_ID", ["azure"]),
  flag("imageid", "AZURE_IMAGE_ID", ["azure"]),
  flag("instance-size", "AZURE_INSTANCE_SIZE", ["azure"]),
  flag("instance-sizes", "AZURE_INSTANCE_SIZES", ["azure"]),
  flag("ssh-username", "SSH_USERNAME", ["azure"]),
  flag("ssh-key-path", "SSH_KEY_PATH", ["azure"]),
  flag("enable-secure-boot", "ENABLE_SECURE_BOOT", ["azure"], true),
  {
    flag: "zone",
    providers: ["azure"],
    upstreamDefault: "",
    instead: "availability zones are not supported: Azure places each VM in the region (AZURE_REGION)",
  },

  // gcp
  flag("gcp-credentials", "GCP_CREDENTIALS", ["gcp"]),
  flag("gcp-project-id", "GCP_PROJECT_ID", ["gcp"]),
  flag("zone", "GCP_ZONE", ["gcp"]),
  flag("image-name", "PODVM_IMAGE_NAME", ["gcp"]),
  flag("machine-type", "GCP_MACHINE_TYPE", ["gcp"]),
  flag("network", "GCP_NETWORK", ["gcp"]),
  flag("subnetwork", "GCP_SUBNETWORK", ["gcp"]),
  flag("disk-type", "GCP_DISK_TYPE", ["gcp"]),
  flag("confidential-type", "GCP_CONFIDENTIAL_TYPE", ["gcp"]),
  // Older upstream images' entrypoint spelled these with a gcp- prefix.
  flag("gcp-image-name", "PODVM_IMAGE_NAME", ["gcp"]),
  flag("gcp-zone", "GCP_ZONE", ["gcp"]),
  flag("gcp-machine-type", "GCP_MACHINE_TYPE", ["gcp"]),
  flag("gcp-network", "GCP_NETWORK", ["gcp"]),

  // libvirt
  flag("uri", "LIBVIRT_URI", ["libvirt"]),
  flag("pool-name", "LIBVIRT_POOL", ["libvirt"]),
  flag("network-name", "LIBVIRT_NET", ["libvirt"]),
  flag("vol-name", "LIBVIRT_VOL_NAME", ["libvirt"]),
  flag("launch-security", "LIBVIRT_LAUNCH_SECURITY", ["libvirt"]),
  flag("firmware", "LIBVIRT_EFI_FIRMWARE", ["libvirt"]),
  flag("cpu", "LIBVIRT_CPU", ["libvirt"]),
  flag("memory", "LIBVIRT_MEMORY", ["libvirt"]),
  flag("root-disk-size", "LIBVIRT_ROOT_DISK_SIZE", ["libvirt"]),
  {
    flag: "data-dir",
    providers: ["libvirt"],
    upstreamDefault: "/var/lib/libvirt/images",
    instead:
      "not needed: each VM's disk and cidata volume are made in the storage pool LIBVIRT_POOL through libvirt, not in a local folder",
  },

  // vsphere
  flag("vcenter-url", "GOVC_URL", ["vsphere"]),
  flag("user-name", "GOVC_USERNAME", ["vsphere"]),
  flag("password", "GOVC_PASSWORD", ["vsphere"]),
  flag("thumbprint", "GOVC_THUMBPRINT", ["vsphere"]),
  flag("data-center", "GOVC_DATACENTER", ["vsphere"]),
  flag("template", "GOVC_TEMPLATE", ["vsphere"]),
  flag("data-store", "GOVC_DATASTORE", ["vsphere"]),
  flag("deploy-folder", "GOVC_FOLDER", ["vsphere"]),
  flag("cluster", "GOVC_VCLUSTER", ["vsphere"]),
  flag("host", "GOVC_HOST", ["vsphere"]),
  flag("drs", "GOVC_DRS", ["vsphere"]),
];

export interface AdaptedArguments {
  /** The arguments left for our own flag parser. */
  readonly argv: readonly string[];
  /** Variables set by upstream flags (they win over the environment). */
  readonly env: Readonly<Record<string, string>>;
  /** Upstream flags without a counterpart, one warning each. */
  readonly findings: readonly UpstreamFinding[];
}

/**
 * Takes upstream's flags out of `argv`: our own flags (from `spec`) stay, an upstream flag of
 * the daemon or of `provider` becomes its variable or a warning, anything else stays for the
 * parser to reject as unknown.
 */
export function adaptUpstreamFlags(argv: readonly string[], provider: string, spec: ConfigSpec): AdaptedArguments {
  const ownBool = new Map<string, boolean>();
  for (const field of Object.values(spec)) for (const name of field.flags) ownBool.set(name, field.kind === "bool");
  const upstream = new Map<string, UpstreamFlag>();
  for (const f of UPSTREAM_FLAGS) {
    if (f.providers === undefined || (f.providers as readonly string[]).includes(provider)) upstream.set(f.flag, f);
  }

  const rest: string[] = [];
  const env: Record<string, string> = {};
  const findings: UpstreamFinding[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] ?? "";
    if (argument === "--" || !argument.startsWith("-") || argument === "-") {
      rest.push(...argv.slice(index));
      break;
    }
    const body = argument.startsWith("--") ? argument.slice(2) : argument.slice(1);
    const equals = body.indexOf("=");
    const name = equals < 0 ? body : body.slice(0, equals);
    const inline = equals < 0 ? undefined : body.slice(equals + 1);
    const own = ownBool.get(name);
    const theirs = upstream.get(name);
    if (own !== undefined || theirs === undefined) {
      // Ours (or unknown): keep it, with its value when that is the next argument.
      rest.push(argument);
      if (own === false && inline === undefined && index + 1 < argv.length) {
        index += 1;
        rest.push(argv[index] ?? "");
      }
      continue;
    }
    let value: string;
    if (inline !== undefined) value = inline;
    else if (theirs.bool === true) value = "true";
    else if (index + 1 < argv.length) {
      index += 1;
      value = argv[index] ?? "";
    } else {
      // Leave it for the parser, which reports the missing value as for any flag.
      rest.push(argument);
      continue;
    }
    if (theirs.env !== undefined) {
      env[theirs.env] = value;
    } else if (value.trim() !== (theirs.upstreamDefault ?? "")) {
      findings.push({
        level: "warn",
        variable: `-${name}`,
        message: `-${name} ${JSON.stringify(value)}: upstream flag not supported; ${theirs.instead ?? "ignored"}`,
      });
    }
  }
  return { argv: rest, env, findings };
}
