// The fake EC2 endpoint's world: what it offers (images, subnets, security groups, instance
// types), the faults it can inject, and its record and public view of each instance.

export const FAKE_AMI = "ami-0f00d000000000001";
export const FAKE_SUBNET = "subnet-0f00d000000000001";
export const FAKE_SG = "sg-0f00d000000000001";
export const FAKE_VPC = "vpc-0f00d000000000001";
export const FAKE_KEY_PAIR = "peerpods-key";

export interface FakeImage {
  readonly id: string;
  readonly name: string;
  readonly rootDeviceName: string;
  readonly state?: "available" | "pending" | "failed";
}

export interface FakeSubnet {
  readonly id: string;
  readonly vpcId: string;
  readonly zone: string;
  /** First three octets of the subnet's /24, e.g. "10.0.1". */
  readonly cidrPrefix: string;
  readonly mapPublicIp: boolean;
}

export interface FakeSecurityGroup {
  readonly id: string;
  readonly name: string;
  readonly vpcId: string;
}

export interface FakeInstanceType {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly gpus?: number;
  /** Whether the type runs AMD SEV-SNP guests (CpuOptions.AmdSevSnp=enabled). */
  readonly sevSnp?: boolean;
}

/** What a launcher is told about a new instance. */
export interface LaunchRequest {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly imageId: string;
  readonly clientToken: string;
  /** The user-data, base64-decoded, as cloud-init in the VM would read it. */
  readonly userData: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Backs instances with real VMs: the instance runs once launch resolves with its address. */
export interface VmLauncher {
  launch(req: LaunchRequest): Promise<{ readonly privateIp: string; readonly publicIp?: string }>;
  terminate(instanceId: string): Promise<void>;
}

export type Fault =
  /** 503 RequestLimitExceeded, as EC2 throttles. */
  | { readonly kind: "throttle" }
  /** 500 InternalError or 503 Unavailable. */
  | { readonly kind: "internal"; readonly status: 500 | 503 }
  /** 403 UnauthorizedOperation, as when the IAM policy lacks the action. */
  | { readonly kind: "unauthorized" }
  /** 400 VcpuLimitExceeded or InstanceLimitExceeded: the account's quota is used up. */
  | { readonly kind: "quota"; readonly code: "VcpuLimitExceeded" | "InstanceLimitExceeded" }
  /** The action succeeds, then the connection is dropped before any answer. */
  | { readonly kind: "drop-after-success" };

export interface FakeEc2Options {
  readonly region?: string;
  readonly accountId?: string;
  /** Time from launch to running (after the launcher, if any, answered). */
  readonly bootDelayMs?: number;
  /** Time from shutting-down to terminated. */
  readonly shutdownDelayMs?: number;
  readonly images?: readonly FakeImage[];
  readonly subnets?: readonly FakeSubnet[];
  readonly securityGroups?: readonly FakeSecurityGroup[];
  readonly instanceTypes?: readonly FakeInstanceType[];
  readonly keyPairs?: readonly string[];
  readonly launcher?: VmLauncher;
}

export type FakeInstanceState = "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped";

export const STATE_CODES: Readonly<Record<FakeInstanceState, number>> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** A read-only view of one instance, for assertions. */
export interface FakeInstanceView {
  readonly id: string;
  readonly type: string;
  readonly imageId: string;
  readonly state: FakeInstanceState;
  readonly tags: Readonly<Record<string, string>>;
  readonly clientToken: string;
  readonly privateIp: string | undefined;
  readonly publicIp: string | undefined;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  readonly keyName: string | undefined;
  readonly userData: string;
  readonly httpTokens: string;
  readonly amdSevSnp: string | undefined;
  readonly rootVolume:
    | { readonly deviceName: string; readonly sizeGiB: number | undefined; readonly deleteOnTermination: boolean }
    | undefined;
  readonly volumeTags: Readonly<Record<string, string>>;
  /** Name of the launch template the instance was launched from, if any. */
  readonly launchTemplate: string | undefined;
}

export interface RecordedCall {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly status: number;
}

export const DEFAULT_INSTANCE_TYPES: readonly FakeInstanceType[] = [
  { name: "t3.small", vcpus: 2, memoryMiB: 2048 },
  { name: "t3.medium", vcpus: 2, memoryMiB: 4096 },
  { name: "c6a.large", vcpus: 2, memoryMiB: 4096, sevSnp: true },
  { name: "m6a.large", vcpus: 2, memoryMiB: 8192, sevSnp: true },
  { name: "r6a.large", vcpus: 2, memoryMiB: 16384, sevSnp: true },
  { name: "c6a.xlarge", vcpus: 4, memoryMiB: 8192, sevSnp: true },
  { name: "m6a.xlarge", vcpus: 4, memoryMiB: 16384, sevSnp: true },
  { name: "m6a.2xlarge", vcpus: 8, memoryMiB: 32768, sevSnp: true },
  { name: "g5.xlarge", vcpus: 4, memoryMiB: 16384, gpus: 1 },
];

/** The fake's own record of an instance (mutable as its life goes on). */
export interface Instance {
  readonly id: string;
  readonly reservationId: string;
  readonly type: string;
  readonly imageId: string;
  readonly rootDeviceName: string;
  state: FakeInstanceState;
  stateReason: { code: string; message: string } | undefined;
  readonly tags: Map<string, string>;
  readonly volumeTags: Map<string, string>;
  readonly clientToken: string;
  readonly subnet: FakeSubnet;
  readonly groups: readonly FakeSecurityGroup[];
  readonly keyName: string | undefined;
  readonly userData: string;
  readonly httpTokens: string;
  readonly amdSevSnp: string | undefined;
  readonly wantsPublicIp: boolean;
  readonly rootVolume: FakeInstanceView["rootVolume"];
  readonly launchTemplate: string | undefined;
  readonly launchTime: Date;
  privateIp: string | undefined;
  publicIp: string | undefined;
  /** True once the launcher answered (at once without a launcher). */
  launched: boolean;
  readonly stuckPending: boolean;
  shutdownAt: number | undefined;
  /** True once the launcher stopped the VM (at once without a launcher). */
  vmStopped: boolean;
}

/** The read-only view of an instance that tests look at. */
export function view(i: Instance): FakeInstanceView {
  return {
    id: i.id,
    type: i.type,
    imageId: i.imageId,
    state: i.state,
    tags: Object.fromEntries(i.tags),
    clientToken: i.clientToken,
    privateIp: i.privateIp,
    publicIp: i.publicIp,
    subnetId: i.subnet.id,
    securityGroupIds: i.groups.map((g) => g.id),
    keyName: i.keyName,
    userData: i.userData,
    httpTokens: i.httpTokens,
    amdSevSnp: i.amdSevSnp,
    rootVolume: i.rootVolume,
    volumeTags: Object.fromEntries(i.volumeTags),
    launchTemplate: i.launchTemplate,
  };
}
