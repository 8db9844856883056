// Every variable the Go cloud-api-adaptor reads from peer-pods-cm / peer-pods-secret (its
// main.go, each provider's manager.go, its Helm chart and image entrypoint), and what this
// daemon does with it. A setting is honoured (with the same meaning, perhaps a stricter parser
// or another default), warned about when set to anything but upstream's default, or refused
// when ignoring it would leave the cluster less secure than the operator asked for. Nothing an
// upstream ConfigMap sets is ignored in silence. docs/coming-from-go.md is the operator's view
// of this table; test/upstream-parity.test.ts keeps the two and the config specs in step.

/** Providers of this daemon that have an upstream counterpart. */
export type UpstreamProvider = "aws" | "azure" | "gcp" | "libvirt" | "vsphere";

export type UpstreamHandling =
  /** Read by our configuration; `difference` says how it differs, if it does. */
  | { readonly kind: "honoured"; readonly difference?: string }
  /** Not implemented: a non-default value logs one start-up warning saying what we do instead. */
  | { readonly kind: "warned"; readonly instead: string }
  /** Not implemented, and ignoring it would weaken security: a non-default value stops start-up. */
  | { readonly kind: "refused"; readonly reason: string; readonly developmentOnly?: boolean };

export interface UpstreamSetting {
  readonly env: string;
  /** Upstream's default as text ("" for none). A value equal to it is never warned about. */
  readonly upstreamDefault: string;
  /** Go booleans compare by meaning ("1", "t", "TRUE", ... are true). */
  readonly bool?: boolean;
  /** Further values that mean the same as the default (e.g. TUNNEL_TYPE=vxlan). */
  readonly alsoDefault?: readonly string[];
  /** Providers whose upstream manager reads it; absent: the daemon itself (every provider). */
  readonly providers?: readonly UpstreamProvider[];
  readonly handling: UpstreamHandling;
}

const honoured = (difference?: string): UpstreamHandling =>
  difference === undefined ? { kind: "honoured" } : { kind: "honoured", difference };
const warned = (instead: string): UpstreamHandling => ({ kind: "warned", instead });
const refused = (reason: string): UpstreamHandling => ({ kind: "refused", reason });

const SECURE_COMMS_ONLY =
  "only used by secure comms (SECURE_COMMS), which this daemon does not implement; the link to each VM is mutual TLS";
const NO_GO_PLUGINS =
  "Go plugins cannot be loaded here; out-of-tree providers are ES modules: set CLOUD_PROVIDER_EXTERNAL_MODULE=/path/module.js and CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256";

export const UPSTREAM_SETTINGS: readonly UpstreamSetting[] = [
  // ── the daemon (cmd/cloud-api-adaptor/main.go, entrypoint.sh) ──
  {
    env: "CLOUD_PROVIDER",
    upstreamDefault: "",
    handling: honoured("default local (upstream has none and prints its usage); the first argument still wins"),
  },
  { env: "REMOTE_HYPERVISOR_ENDPOINT", upstreamDefault: "/run/peerpod/hypervisor.sock", handling: honoured() },
  { env: "PODS_DIR", upstreamDefault: "/run/peerpod/pods", handling: honoured() },
  {
    env: "PAUSE_IMAGE",
    upstreamDefault: "",
    handling: warned(
      "accepted and not passed on, as upstream: the VM starts each pod's sandbox container from the pause bundle its image was built with (/pause_bundle)",
    ),
  },
  {
    env: "FORWARDER_PORT",
    upstreamDefault: "15150",
    handling: honoured("a port number 1-65535 (upstream passes any text on)"),
  },
  {
    env: "PROXY_TIMEOUT",
    upstreamDefault: "5m",
    handling: honoured("a malformed duration stops start-up instead of falling back to 5m"),
  },
  {
    env: "TUNNEL_TYPE",
    upstreamDefault: "",
    alsoDefault: ["vxlan"],
    handling: warned("pods are always connected to their VM with a VXLAN tunnel"),
  },
  { env: "VXLAN_PORT", upstreamDefault: "4789", handling: honoured("a malformed number stops start-up") },
  { env: "INITDATA", upstreamDefault: "", handling: honoured() },
  {
    env: "CLOUD_CONFIG_VERIFY",
    upstreamDefault: "false",
    bool: true,
    handling: refused(
      "the peer VM would not verify its cloud-config against the initdata digest, which this setting asks for; unset it (or set false) to run without that check",
    ),
  },
  {
    env: "PEERPODS_LIMIT_PER_NODE",
    upstreamDefault: "10",
    handling: honoured(
      "0 or less: no limit and no node capacity advertised (as upstream); a malformed number stops start-up",
    ),
  },
  {
    env: "ENABLE_SCRATCH_SPACE",
    upstreamDefault: "false",
    bool: true,
    handling: refused(
      "encrypted scratch space is not implemented: the pod's writable storage in the VM would not be encrypted as asked; unset it (or set false) to run without it",
    ),
  },
  {
    env: "TLS_MIN_VERSION",
    upstreamDefault: "",
    handling: honoured(
      "VersionTLS12 or VersionTLS13 only (anything else stops start-up); a forwarder that cannot meet it fails the pod naming the setting",
    ),
  },
  {
    env: "TLS_CIPHER_SUITES",
    upstreamDefault: "",
    handling: honoured(
      "an unknown suite name stops start-up; as in Go, TLS 1.3's suites stay on whatever the list says",
    ),
  },
  {
    env: "CACERT_FILE",
    upstreamDefault: "",
    handling: honoured(
      "needs CERT_FILE and CERT_KEY too; the VMs' certificates then come with their image (the forwarder's --ca-cert-file, --cert-file, --cert-key) and are checked against this CA only, not against a per-sandbox name",
    ),
  },
  { env: "CERT_FILE", upstreamDefault: "", handling: honoured("needs CACERT_FILE and CERT_KEY too") },
  { env: "CERT_KEY", upstreamDefault: "", handling: honoured("needs CACERT_FILE and CERT_FILE too") },
  {
    env: "TLS_SKIP_VERIFY",
    upstreamDefault: "false",
    bool: true,
    handling: {
      kind: "refused",
      reason:
        "skipping certificate verification lets anyone on the path pose as a peer VM and read the pod's agent traffic; the daemon issues each VM a certificate it can verify, so nothing needs skipping (for development only, DISABLE_TLS=true turns TLS off altogether)",
      developmentOnly: true,
    },
  },
  {
    env: "SECURE_COMMS",
    upstreamDefault: "false",
    bool: true,
    handling: refused(
      "secure comms (SSH tunnels keyed through Trustee after attestation) is not implemented; the link would fall back to mutual TLS with keys delivered in user-data, which the cloud can read. Unset it (or set false) to accept that",
    ),
  },
  { env: "SECURE_COMMS_INBOUNDS", upstreamDefault: "", handling: warned(SECURE_COMMS_ONLY) },
  { env: "SECURE_COMMS_OUTBOUNDS", upstreamDefault: "", handling: warned(SECURE_COMMS_ONLY) },
  { env: "SECURE_COMMS_PP_INBOUNDS", upstreamDefault: "", handling: warned(SECURE_COMMS_ONLY) },
  { env: "SECURE_COMMS_PP_OUTBOUNDS", upstreamDefault: "", handling: warned(SECURE_COMMS_ONLY) },
  {
    env: "SECURE_COMMS_KBS_ADDR",
    upstreamDefault: "kbs-service.trustee-operator-system:8080",
    handling: warned(SECURE_COMMS_ONLY),
  },
  { env: "SECURE_COMMS_NO_TRUSTEE", upstreamDefault: "false", bool: true, handling: warned(SECURE_COMMS_ONLY) },
  {
    env: "EXTERNAL_NETWORK_VIA_PODVM",
    upstreamDefault: "false",
    bool: true,
    handling: warned(
      "not implemented: all of the pod's traffic, external too, goes through the VXLAN tunnel to the worker node as usual",
    ),
  },
  {
    env: "POD_SUBNET_CIDRS",
    upstreamDefault: "",
    handling: warned(
      "not implemented (it only serves EXTERNAL_NETWORK_VIA_PODVM): all of the pod's traffic goes through the tunnel",
    ),
  },
  {
    env: "ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN",
    upstreamDefault: "false",
    bool: true,
    handling: refused(NO_GO_PLUGINS),
  },
  { env: "CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH", upstreamDefault: "", handling: warned(NO_GO_PLUGINS) },
  { env: "CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH", upstreamDefault: "", handling: warned(NO_GO_PLUGINS) },
  {
    env: "RUNTIMECLASS_NAME",
    upstreamDefault: "kata-remote",
    handling: warned(
      "the daemon serves whatever the shim sends and needs no class name; peerpods-webhook reads it (with TARGET_RUNTIMECLASS and TARGET_RUNTIME_CLASS, which must agree) to pick the pods it prepares",
    ),
  },
  {
    env: "CRI_RUNTIME_ENDPOINT",
    upstreamDefault: "/run/cri-runtime.sock",
    handling: warned(
      "not used: the daemon never talks to the container runtime (upstream's image sets it but nothing reads it)",
    ),
  },

  // ── aws (cloud-providers/aws/manager.go) ──
  {
    env: "AWS_REGION",
    upstreamDefault: "",
    providers: ["aws"],
    handling: honoured("a malformed region stops start-up; unset on EC2: the worker's region (as upstream)"),
  },
  { env: "AWS_SUBNET_ID", upstreamDefault: "", providers: ["aws"], handling: honoured() },
  { env: "AWS_SG_IDS", upstreamDefault: "", providers: ["aws"], handling: honoured() },
  { env: "PODVM_AMI_ID", upstreamDefault: "", providers: ["aws"], handling: honoured() },
  { env: "PODVM_INSTANCE_TYPE", upstreamDefault: "m6a.large", providers: ["aws"], handling: honoured() },
  { env: "PODVM_INSTANCE_TYPES", upstreamDefault: "", providers: ["aws"], handling: honoured() },
  { env: "SSH_KP_NAME", upstreamDefault: "", providers: ["aws"], handling: honoured() },
  {
    env: "TAGS",
    upstreamDefault: "",
    providers: ["aws"],
    handling: honoured("keys Name and peerpods.* are refused (the daemon sets them)"),
  },
  { env: "USE_PUBLIC_IP", upstreamDefault: "false", bool: true, providers: ["aws"], handling: honoured() },
  {
    env: "ROOT_VOLUME_SIZE",
    upstreamDefault: "30",
    providers: ["aws"],
    handling: honoured("0 keeps the image's size (as upstream); a malformed or negative size stops start-up"),
  },
  { env: "DISABLECVM", upstreamDefault: "false", bool: true, providers: ["aws"], handling: honoured() },
  {
    env: "PODVM_LAUNCHTEMPLATE_NAME",
    upstreamDefault: "kata",
    providers: ["aws"],
    handling: honoured("checked to exist at start-up (with a dry-run launch through it)"),
  },
  {
    env: "USE_PODVM_LAUNCHTEMPLATE",
    upstreamDefault: "false",
    bool: true,
    providers: ["aws"],
    handling: honoured(
      "as upstream, the template supplies image, instance type, network, key pair and CPU options (settings for those are warned about as unused) and PODVM_AMI_ID is optional; the daemon still asks for IMDSv2 only",
    ),
  },
  {
    env: "AWS_ACCESS_KEY_ID",
    upstreamDefault: "",
    providers: ["aws"],
    handling: honoured("optional: unset, the SDK's default chain (instance role, web identity)"),
  },
  { env: "AWS_SECRET_ACCESS_KEY", upstreamDefault: "", providers: ["aws"], handling: honoured() },
  { env: "AWS_SESSION_TOKEN", upstreamDefault: "", providers: ["aws"], handling: honoured() },

  // ── azure (cloud-providers/azure/manager.go) ──
  { env: "AZURE_SUBSCRIPTION_ID", upstreamDefault: "", providers: ["azure"], handling: honoured("must be a GUID") },
  { env: "AZURE_REGION", upstreamDefault: "", providers: ["azure"], handling: honoured() },
  { env: "AZURE_RESOURCE_GROUP", upstreamDefault: "", providers: ["azure"], handling: honoured() },
  {
    env: "AZURE_SUBNET_ID",
    upstreamDefault: "",
    providers: ["azure"],
    handling: honoured("checked to be a subnet resource id at start-up"),
  },
  { env: "AZURE_NSG_ID", upstreamDefault: "", providers: ["azure"], handling: honoured() },
  { env: "AZURE_IMAGE_ID", upstreamDefault: "", providers: ["azure"], handling: honoured() },
  { env: "AZURE_INSTANCE_SIZE", upstreamDefault: "Standard_DC2as_v5", providers: ["azure"], handling: honoured() },
  { env: "AZURE_INSTANCE_SIZES", upstreamDefault: "", providers: ["azure"], handling: honoured() },
  { env: "SSH_USERNAME", upstreamDefault: "peerpod", providers: ["azure"], handling: honoured() },
  {
    env: "TAGS",
    upstreamDefault: "",
    providers: ["azure"],
    handling: honoured("keys starting peerpods. are refused (the daemon sets them)"),
  },
  { env: "USE_PUBLIC_IP", upstreamDefault: "false", bool: true, providers: ["azure"], handling: honoured() },
  { env: "DISABLECVM", upstreamDefault: "false", bool: true, providers: ["azure"], handling: honoured() },
  {
    env: "ENABLE_SECURE_BOOT",
    upstreamDefault: "false",
    bool: true,
    providers: ["azure"],
    handling: honoured(
      "as upstream, it applies to confidential VMs; an ordinary VM (DISABLECVM=true) gets no UEFI security profile",
    ),
  },
  {
    env: "ROOT_VOLUME_SIZE",
    upstreamDefault: "0",
    providers: ["azure"],
    handling: honoured("0 to 4095 GiB; a malformed or negative size stops start-up"),
  },
  { env: "AZURE_CLIENT_ID", upstreamDefault: "", providers: ["azure"], handling: honoured() },
  {
    env: "AZURE_CLIENT_SECRET",
    upstreamDefault: "",
    providers: ["azure"],
    handling: honoured("optional: unset, workload identity or the node's managed identity"),
  },
  { env: "AZURE_TENANT_ID", upstreamDefault: "", providers: ["azure"], handling: honoured() },

  // ── gcp (cloud-providers/gcp/manager.go) ──
  {
    env: "GCP_CREDENTIALS",
    upstreamDefault: "",
    providers: ["gcp"],
    handling: honoured(
      "the service-account key's JSON text; unset: Application Default Credentials (workload identity, the metadata server), as upstream",
    ),
  },
  { env: "GCP_PROJECT_ID", upstreamDefault: "", providers: ["gcp"], handling: honoured("required") },
  {
    env: "GCP_ZONE",
    upstreamDefault: "",
    providers: ["gcp"],
    handling: honoured("required (upstream's image asks the metadata server when it is unset)"),
  },
  {
    env: "PODVM_IMAGE_NAME",
    upstreamDefault: "",
    providers: ["gcp"],
    handling: honoured("also accepts an image family (projects/P/global/images/family/F); checked at start-up"),
  },
  { env: "GCP_MACHINE_TYPE", upstreamDefault: "e2-medium", providers: ["gcp"], handling: honoured() },
  {
    env: "GCP_INSTANCE_TYPES",
    upstreamDefault: "",
    providers: ["gcp"],
    handling: honoured("a zone without capacity for the smallest fitting type tries the next one"),
  },
  {
    env: "GCP_NETWORK",
    upstreamDefault: "",
    alsoDefault: ["default", "global/networks/default"],
    providers: ["gcp"],
    handling: honoured(
      "unset means the network named default, as GCE does for upstream's empty value; global/networks/N is made full with GCP_PROJECT_ID",
    ),
  },
  { env: "GCP_SUBNETWORK", upstreamDefault: "", providers: ["gcp"], handling: honoured() },
  { env: "GCP_DISK_TYPE", upstreamDefault: "pd-standard", providers: ["gcp"], handling: honoured() },
  { env: "DISABLECVM", upstreamDefault: "false", bool: true, providers: ["gcp"], handling: honoured() },
  {
    env: "GCP_CONFIDENTIAL_TYPE",
    upstreamDefault: "",
    providers: ["gcp"],
    handling: honoured("SEV, SEV_SNP or TDX; missing while DISABLECVM=false stops start-up (upstream fails each pod)"),
  },
  {
    env: "ROOT_VOLUME_SIZE",
    upstreamDefault: "10",
    providers: ["gcp"],
    handling: honoured(
      "unset: the image's size (upstream: the larger of 10 and the image's size); below 10 stops start-up",
    ),
  },
  {
    env: "USE_PUBLIC_IP",
    upstreamDefault: "false",
    bool: true,
    providers: ["gcp"],
    handling: honoured(
      "false gives the VM no external address at all (upstream gives every VM one and only chooses which address to dial)",
    ),
  },
  {
    env: "TAGS",
    upstreamDefault: "",
    providers: ["gcp"],
    handling: honoured(
      "k=v pairs become labels on the VM and its disk; upstream binds existing Resource Manager tags instead",
    ),
  },

  // ── libvirt (cloud-providers/libvirt/manager.go) ──
  {
    env: "LIBVIRT_URI",
    upstreamDefault: "qemu+ssh://root@192.168.122.1/system?no_verify=1",
    providers: ["libvirt"],
    handling: honoured(
      "default qemu:///system (the local libvirtd) instead of ssh to 192.168.122.1 without host-key checking",
    ),
  },
  { env: "LIBVIRT_POOL", upstreamDefault: "default", providers: ["libvirt"], handling: honoured() },
  { env: "LIBVIRT_NET", upstreamDefault: "default", providers: ["libvirt"], handling: honoured() },
  { env: "LIBVIRT_VOL_NAME", upstreamDefault: "podvm-base.qcow2", providers: ["libvirt"], handling: honoured() },
  {
    env: "LIBVIRT_CPU",
    upstreamDefault: "2",
    providers: ["libvirt"],
    handling: honoured("a malformed number stops start-up instead of falling back to 2"),
  },
  {
    env: "LIBVIRT_MEMORY",
    upstreamDefault: "8192",
    providers: ["libvirt"],
    handling: honoured("a malformed number stops start-up instead of falling back to 8192"),
  },
  {
    env: "LIBVIRT_EFI_FIRMWARE",
    upstreamDefault: "/usr/share/OVMF/OVMF_CODE_4M.fd",
    providers: ["libvirt"],
    handling: honoured('"none" boots by BIOS; not used with LIBVIRT_KERNEL (see the libvirt provider\'s reference)'),
  },
  {
    env: "LIBVIRT_LAUNCH_SECURITY",
    upstreamDefault: "",
    providers: ["libvirt"],
    handling: honoured(
      "sev, sev-snp, tdx or s390-pv; confidential libvirt guests are not made yet, so a value stops start-up, saying whether the host's domain capabilities offer it",
    ),
  },
  {
    env: "LIBVIRT_ROOT_DISK_SIZE",
    upstreamDefault: "10",
    providers: ["libvirt"],
    handling: honoured(
      "default 0 (the base volume's size) instead of 10; never below the base volume's size; a malformed or negative size stops start-up",
    ),
  },
  {
    env: "LIBVIRT_CPUSET",
    upstreamDefault: "",
    providers: ["libvirt"],
    handling: honoured("the domain's <vcpu cpuset>; a malformed cpuset stops start-up"),
  },
  {
    env: "DISABLECVM",
    upstreamDefault: "true",
    bool: true,
    providers: ["libvirt"],
    handling: honoured(
      "false asks for confidential guests, which are not made yet: start-up stops, saying whether the host's domain capabilities offer SEV, SEV-SNP, TDX or s390-pv",
    ),
  },

  // ── vsphere (cloud-providers/vsphere/manager.go) ──
  {
    env: "GOVC_URL",
    upstreamDefault: "",
    providers: ["vsphere"],
    handling: honoured("also accepts a bare host name or https://host (as govc does)"),
  },
  { env: "GOVC_USERNAME", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  { env: "GOVC_PASSWORD", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  {
    env: "GOVC_THUMBPRINT",
    upstreamDefault: "",
    providers: ["vsphere"],
    handling: honoured("SHA-1 (as upstream) or SHA-256"),
  },
  { env: "GOVC_DATACENTER", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  { env: "GOVC_TEMPLATE", upstreamDefault: "podvm-template", providers: ["vsphere"], handling: honoured() },
  { env: "GOVC_DATASTORE", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  { env: "GOVC_FOLDER", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  { env: "GOVC_VCLUSTER", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  { env: "GOVC_HOST", upstreamDefault: "", providers: ["vsphere"], handling: honoured() },
  {
    env: "GOVC_DRS",
    upstreamDefault: "false",
    bool: true,
    providers: ["vsphere"],
    handling: honoured(
      'any Go boolean (upstream compares with "true"); GOVC_VCLUSTER missing stops start-up; GOVC_HOST and GOVC_DATASTORE, set, are warned about as unused',
    ),
  },
];

/** The upstream settings read by the daemon running `provider`. */
export function upstreamSettingsFor(provider: string): UpstreamSetting[] {
  return UPSTREAM_SETTINGS.filter(
    (s) => s.providers === undefined || (s.providers as readonly string[]).includes(provider),
  );
}
