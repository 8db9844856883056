// Peer VMs as EC2 instances. The daemon records a VM's name and token before asking; the token
// becomes the RunInstances ClientToken, so a retried create (after a lost answer, a crash or a
// restart) finds the instance the first attempt made instead of launching a second one. Every
// instance carries the ownership tags, so reconciliation can list the node's instances and
// delete those no sandbox claims.

import { randomUUID } from "node:crypto";
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  type Filter,
  type Instance,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { Logger } from "pino";
import { ANNOTATIONS } from "../../src/kata/annotations.ts";
import { chooseProviderInstanceType, type InstanceTypeChoice } from "../instance-types.ts";
import {
  type CreateVmRequest,
  OWNERSHIP_KEYS,
  type Ownership,
  type Provider,
  ProviderError,
  type ResourceRequest,
  type VmInstance,
  type VmRef,
} from "../provider.ts";
import { clientTokenFor } from "./client-token.ts";
import type { AwsProviderConfig } from "./config.ts";
import { createEc2Client } from "./ec2-client.ts";
import { CAPACITY_CODES, type CallHints, ec2ErrorCode, explainEc2Error, type SettingHint } from "./ec2-errors.ts";
import { InstanceTypeCatalog } from "./instance-type-catalog.ts";
import { LIVE_STATES, toVmInstance } from "./instance-view.ts";
import { MAX_USER_DATA_BYTES, runInstancesInput } from "./run-request.ts";
import { templateRunInstancesInput } from "./template-request.ts";
import { waitUntilRunning } from "./wait-running.ts";
import { type Placement, resolvePlacement } from "./worker-placement.ts";

export interface AwsProviderOptions {
  readonly logger: Logger;
  /** First and longest pause between polls while an instance starts. */
  readonly pollInitialMs?: number;
  readonly pollMaxMs?: number;
  /** Per-request bound on the metadata service (it never answers off EC2). */
  readonly imdsTimeoutMs?: number;
  /** DescribeInstances page size (5 to 1000). */
  readonly pageSize?: number;
}

interface Connection {
  readonly client: EC2Client;
  readonly placement: Placement;
}

export class AwsProvider implements Provider {
  readonly name = "aws";
  private readonly config: AwsProviderConfig;
  private readonly logger: Logger;
  private readonly options: AwsProviderOptions;
  private readonly types = new InstanceTypeCatalog();
  /** Root device name per AMI, to size the root volume. */
  private readonly rootDevices = new Map<string, string | undefined>();
  private connection: Promise<Connection> | undefined;

  constructor(config: AwsProviderConfig, options: AwsProviderOptions) {
    this.config = config;
    this.options = options;
    this.logger = options.logger;
  }

  async check(signal: AbortSignal): Promise<void> {
    const { client, placement } = await this.connect(signal);
    const hints = this.hints(placement);
    const problems: ProviderError[] = [];
    const collect = (p: Promise<unknown>) =>
      p.catch((err: unknown) => problems.push(explainEc2Error(err, "check", signal)));
    const typeNames = [...new Set([...this.config.instanceTypes, this.config.instanceType])];
    const template = this.config.launchTemplate;
    const settings =
      template === undefined
        ? [
            this.rootDeviceOf(client, this.config.amiId!, hints.image!, signal),
            this.checkSubnet(client, placement, hints.subnet!, signal),
            this.checkSecurityGroups(client, placement, hints.securityGroups!, signal),
            this.checkInstanceTypes(client, typeNames, signal),
          ]
        : [
            this.checkLaunchTemplate(client, template, signal),
            ...(this.config.amiId === undefined || this.config.rootVolumeSizeGiB === 0
              ? []
              : [this.rootDeviceOf(client, this.config.amiId, this.amiHint(), signal)]),
          ];
    await Promise.all([
      ...settings.map(collect),
      collect(
        this.describeAll(
          client,
          [
            { Name: "tag-key", Values: [OWNERSHIP_KEYS.sandboxId] },
            { Name: "instance-state-name", Values: ["pending"] },
          ],
          signal,
        ),
      ),
    ]);
    // Launch permissions (RunInstances and tagging at launch) by dry run, once the settings it
    // uses are known good, so its error cannot hide theirs.
    if (problems.length === 0) await collect(this.dryRunLaunch(client, placement, signal));
    if (problems.length > 0) {
      throw new ProviderError(`AWS provider check failed:\n${problems.map((p) => `  ${p.message}`).join("\n")}`, {
        retryable: problems.every((p) => p.retryable),
        cause: problems.length === 1 ? problems[0] : new AggregateError(problems),
      });
    }
    if (this.config.unusedTemplateName !== undefined) {
      this.logger.warn(
        { launchTemplate: this.config.unusedTemplateName },
        `PODVM_LAUNCHTEMPLATE_NAME=${this.config.unusedTemplateName} is not used: USE_PODVM_LAUNCHTEMPLATE is false, so instances are launched from PODVM_AMI_ID (older upstream images used the template whenever its name was set; set USE_PODVM_LAUNCHTEMPLATE=true for that)`,
      );
    }
    if (template !== undefined && this.config.supersededByTemplate.length > 0) {
      this.logger.warn(
        { launchTemplate: template, ignored: this.config.supersededByTemplate },
        `USE_PODVM_LAUNCHTEMPLATE=true: ${this.config.supersededByTemplate.join(", ")} not used; launch template ${template} supplies the image, instance type, network, key pair and CPU options (as upstream)`,
      );
    }
    this.logger.info(
      template === undefined
        ? {
            region: placement.region,
            subnet: placement.subnetId,
            securityGroups: placement.securityGroupIds,
            ami: this.config.amiId,
          }
        : { region: placement.region, launchTemplate: template },
      "AWS provider ready",
    );
  }

  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    const { client, placement } = await this.connect(signal);
    const size = Buffer.byteLength(req.userData, "utf8");
    if (size > MAX_USER_DATA_BYTES) {
      throw new ProviderError(`user-data for ${req.name} is ${size} bytes; EC2 accepts at most ${MAX_USER_DATA_BYTES}`);
    }
    if (this.config.launchTemplate !== undefined)
      return this.createFromTemplate(client, req, this.config.launchTemplate, signal);
    const hints = this.hints(placement, req.resources);
    const imageId = req.resources.image ?? this.config.amiId!;
    const rootDeviceName = await this.rootDeviceOf(client, imageId, hints.image!, signal);
    const choice = await this.chooseType(client, req.resources, signal);
    const candidates = choice.reason === "smallest-fit" ? [choice.name, ...choice.fallbacks] : [choice.name];
    const tokens = candidates.map((type, k) => clientTokenFor(req.token, type, k === 0));
    const log = this.logger.child({ vm: req.name, sandbox: req.owner.sandboxId });

    // A launch that fell back to another type has its own token; after a crash, look for it
    // before launching the first choice again.
    if (candidates.length > 1) {
      const found = await this.describeAll(
        client,
        [
          { Name: "client-token", Values: tokens },
          { Name: "instance-state-name", Values: ["pending", "running"] },
        ],
        signal,
      );
      const existing = found[0]?.InstanceId;
      if (existing !== undefined) {
        log.info({ vmId: existing }, "found the instance an earlier attempt launched");
        return this.awaitRunning(client, existing, signal);
      }
    }

    for (let k = 0; k < candidates.length; k++) {
      const instanceType = candidates[k]!;
      const input = runInstancesInput(
        {
          name: req.name,
          owner: req.owner,
          userData: req.userData,
          imageId,
          rootDeviceName,
          instanceType,
          clientToken: tokens[k]!,
        },
        this.config,
        placement,
      );
      let launched: Instance | undefined;
      try {
        const out = await client.send(new RunInstancesCommand(input), { abortSignal: signal });
        launched = out.Instances?.[0];
      } catch (err) {
        const code = ec2ErrorCode(err);
        if (code !== undefined && CAPACITY_CODES.has(code) && k + 1 < candidates.length && !signal.aborted) {
          log.warn(
            { instanceType, next: candidates[k + 1], code },
            "no EC2 capacity for the smallest fitting type; trying the next one",
          );
          continue;
        }
        throw explainEc2Error(err, "RunInstances", signal, { ...hints, instanceType: typeHint(choice, instanceType) });
      }
      const id = launchedId(launched, req.name);
      log.info({ vmId: id, instanceType, reason: choice.reason }, "EC2 instance launched");
      return this.awaitRunning(client, id, signal);
    }
    throw new ProviderError(`no instance type could be launched for ${req.name}`, { retryable: true });
  }

  /** One RunInstances from the launch template; the template decides the type, so no fallback. */
  private async createFromTemplate(
    client: EC2Client,
    req: CreateVmRequest,
    template: string,
    signal: AbortSignal,
  ): Promise<VmInstance> {
    const log = this.logger.child({ vm: req.name, sandbox: req.owner.sandboxId });
    const { image, instanceType } = req.resources;
    if (image !== undefined || instanceType !== undefined) {
      // Upstream ignores them too; say so, since the pod asked.
      log.warn(
        { launchTemplate: template, image, instanceType },
        `the pod's image or machine type annotation is not used: launch template ${template} decides them`,
      );
    }
    const rootDeviceName =
      this.config.amiId === undefined || this.config.rootVolumeSizeGiB === 0
        ? undefined
        : await this.rootDeviceOf(client, this.config.amiId, this.amiHint(), signal);
    const input = templateRunInstancesInput(
      {
        name: req.name,
        owner: req.owner,
        userData: req.userData,
        rootDeviceName,
        clientToken: clientTokenFor(req.token, `template/${template}`, true),
      },
      { ...this.config, launchTemplate: template },
    );
    let launched: Instance | undefined;
    try {
      const out = await client.send(new RunInstancesCommand(input), { abortSignal: signal });
      launched = out.Instances?.[0];
    } catch (err) {
      throw explainEc2Error(err, "RunInstances", signal, this.templateHints(template));
    }
    const id = launchedId(launched, req.name);
    log.info({ vmId: id, launchTemplate: template, instanceType: launched!.InstanceType }, "EC2 instance launched");
    return this.awaitRunning(client, id, signal);
  }

  async deleteVm(vm: VmRef, signal: AbortSignal): Promise<void> {
    const { client } = await this.connect(signal);
    // By id, or by Name tag when the create never answered; either way only an instance whose
    // ownership tags are exactly the given marks (an account may be shared by clusters).
    const filters: Filter[] = [
      { Name: `tag:${OWNERSHIP_KEYS.sandboxId}`, Values: [vm.owner.sandboxId] },
      { Name: `tag:${OWNERSHIP_KEYS.node}`, Values: [vm.owner.node] },
      { Name: `tag:${OWNERSHIP_KEYS.cluster}`, Values: [vm.owner.cluster] },
      { Name: "instance-state-name", Values: [...LIVE_STATES] },
    ];
    let found: Instance[];
    try {
      found =
        vm.id !== undefined && vm.id !== ""
          ? await this.describeAll(client, filters, signal, [vm.id])
          : await this.describeAll(client, [{ Name: "tag:Name", Values: [vm.name] }, ...filters], signal);
    } catch (err) {
      // Terminated instances vanish from EC2 after a while: gone is done.
      if (ec2ErrorCode((err as Error).cause) === "InvalidInstanceID.NotFound") return;
      throw err;
    }
    const ids = found.map((i) => i.InstanceId).filter((id): id is string => id !== undefined);
    if (vm.id !== undefined && vm.id !== "" && ids.length === 0) {
      this.logger.info(
        { vm: vm.name, vmId: vm.id },
        "no live instance with this id carries the sandbox's marks: nothing to terminate",
      );
    }
    if (ids.length === 0) return;
    try {
      const out = await client.send(new TerminateInstancesCommand({ InstanceIds: ids }), { abortSignal: signal });
      for (const change of out.TerminatingInstances ?? []) {
        this.logger.info(
          { vm: vm.name, vmId: change.InstanceId, from: change.PreviousState?.Name, to: change.CurrentState?.Name },
          "EC2 instance terminating",
        );
      }
    } catch (err) {
      // Already gone (terminated instances vanish from EC2 after a while): done.
      if (ec2ErrorCode(err) === "InvalidInstanceID.NotFound") return;
      throw explainEc2Error(err, "TerminateInstances", signal);
    }
  }

  async listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]> {
    const { client } = await this.connect(signal);
    const found = await this.describeAll(
      client,
      [
        { Name: `tag:${OWNERSHIP_KEYS.node}`, Values: [owner.node] },
        { Name: `tag:${OWNERSHIP_KEYS.cluster}`, Values: [owner.cluster] },
        { Name: "instance-state-name", Values: [...LIVE_STATES] },
      ],
      signal,
    );
    return found.map((i) => toVmInstance(i, this.config.usePublicIp));
  }

  async close(): Promise<void> {
    const pending = this.connection;
    this.connection = undefined;
    const conn = await pending?.catch(() => undefined);
    conn?.client.destroy();
  }

  /** Learns the placement (IMDSv2 for unset values) and builds the client, once. */
  private connect(signal: AbortSignal): Promise<Connection> {
    if (this.connection === undefined) {
      const attempt = (async (): Promise<Connection> => {
        const placement = await resolvePlacement(this.config, signal, this.options.imdsTimeoutMs ?? 1000);
        if (placement.fromImds.length > 0)
          this.logger.info(
            {
              fromImds: placement.fromImds,
              region: placement.region,
              subnet: placement.subnetId,
              securityGroups: placement.securityGroupIds,
            },
            "placement from the worker's instance metadata",
          );
        return { client: createEc2Client(this.config, placement.region), placement };
      })();
      this.connection = attempt;
      // A failed attempt is forgotten, so the next call tries again.
      attempt.catch(() => {
        if (this.connection === attempt) this.connection = undefined;
      });
    }
    return this.connection;
  }

  private amiHint(): SettingHint {
    return { variable: "PODVM_AMI_ID", value: this.config.amiId ?? "" };
  }

  /** With a launch template, whatever the launch finds missing came from the template. */
  private templateHints(template: string): CallHints {
    const hint = { variable: "PODVM_LAUNCHTEMPLATE_NAME", value: template };
    return {
      launchTemplate: hint,
      image: hint,
      subnet: hint,
      securityGroups: hint,
      keyName: hint,
      instanceType: hint,
    };
  }

  private async checkLaunchTemplate(client: EC2Client, template: string, signal: AbortSignal): Promise<void> {
    try {
      const out = await client.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [template] }), {
        abortSignal: signal,
      });
      if (!(out.LaunchTemplates ?? []).some((t) => t.LaunchTemplateName === template))
        throw new ProviderError(`PODVM_LAUNCHTEMPLATE_NAME=${template}: no such launch template in this region`);
    } catch (err) {
      throw explainEc2Error(err, "DescribeLaunchTemplates", signal, this.templateHints(template));
    }
  }

  private hints(placement: Placement, resources?: ResourceRequest): CallHints {
    const learned = (variable: string) =>
      placement.fromImds.includes(variable) ? `${variable} (from the worker's metadata)` : variable;
    const image = resources?.image;
    return {
      image: image === undefined ? this.amiHint() : { variable: `annotation ${ANNOTATIONS.image}`, value: image },
      subnet: { variable: learned("AWS_SUBNET_ID"), value: placement.subnetId ?? "" },
      securityGroups: { variable: learned("AWS_SG_IDS"), value: placement.securityGroupIds.join(",") },
      ...(this.config.keyName === undefined
        ? {}
        : { keyName: { variable: "SSH_KP_NAME", value: this.config.keyName } }),
    };
  }

  private async rootDeviceOf(
    client: EC2Client,
    imageId: string,
    hint: SettingHint,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    if (this.rootDevices.has(imageId)) return this.rootDevices.get(imageId);
    let image;
    try {
      const out = await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }), { abortSignal: signal });
      image = out.Images?.find((i) => i.ImageId === imageId);
    } catch (err) {
      throw explainEc2Error(err, "DescribeImages", signal, { image: hint });
    }
    if (image === undefined)
      throw new ProviderError(`${hint.variable}=${hint.value}: no such AMI visible to this account in this region`);
    if (image.State !== "available")
      throw new ProviderError(
        `${hint.variable}=${hint.value}: AMI is ${image.State ?? "in an unknown state"}, not available`,
      );
    this.rootDevices.set(imageId, image.RootDeviceName);
    return image.RootDeviceName;
  }

  private async checkSubnet(
    client: EC2Client,
    placement: Placement,
    hint: SettingHint,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      const out = await client.send(new DescribeSubnetsCommand({ SubnetIds: [placement.subnetId ?? ""] }), {
        abortSignal: signal,
      });
      const subnet = out.Subnets?.find((s) => s.SubnetId === placement.subnetId);
      if (subnet === undefined)
        throw new ProviderError(`${hint.variable}=${hint.value}: no such subnet in ${placement.region}`);
    } catch (err) {
      throw explainEc2Error(err, "DescribeSubnets", signal, { subnet: hint });
    }
  }

  private async checkSecurityGroups(
    client: EC2Client,
    placement: Placement,
    hint: SettingHint,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      const out = await client.send(new DescribeSecurityGroupsCommand({ GroupIds: [...placement.securityGroupIds] }), {
        abortSignal: signal,
      });
      const seen = new Set((out.SecurityGroups ?? []).map((g) => g.GroupId));
      const missing = placement.securityGroupIds.filter((id) => !seen.has(id));
      if (missing.length > 0)
        throw new ProviderError(
          `${hint.variable}=${hint.value}: no security group ${missing.join(", ")} in ${placement.region}`,
        );
    } catch (err) {
      throw explainEc2Error(err, "DescribeSecurityGroups", signal, { securityGroups: hint });
    }
  }

  private async checkInstanceTypes(client: EC2Client, names: readonly string[], signal: AbortSignal): Promise<void> {
    const hint = { variable: "PODVM_INSTANCE_TYPES/PODVM_INSTANCE_TYPE", value: names.join(",") };
    const facts = await this.types.lookup(client, names, hint, signal);
    const plain = facts.filter((t) => !t.sevSnp).map((t) => t.name);
    if (!this.config.disableCvm && plain.length > 0) {
      throw new ProviderError(
        `${hint.variable}: ${plain.join(", ")} cannot run AMD SEV-SNP confidential VMs; list only types that can (e.g. m6a, c6a, r6a) or set DISABLECVM=true`,
      );
    }
  }

  private async dryRunLaunch(client: EC2Client, placement: Placement, signal: AbortSignal): Promise<void> {
    const template = this.config.launchTemplate;
    const common = {
      name: "peerpods-check",
      owner: { sandboxId: "check", node: "check", cluster: "check" },
      userData: "#cloud-config\n",
      rootDeviceName: this.config.amiId === undefined ? undefined : this.rootDevices.get(this.config.amiId),
      clientToken: randomUUID(),
    };
    // With a template, this also proves what the template names (image, type, network) exists.
    const input =
      template === undefined
        ? runInstancesInput(
            { ...common, imageId: this.config.amiId!, instanceType: this.config.instanceType },
            this.config,
            placement,
            true,
          )
        : templateRunInstancesInput(common, { ...this.config, launchTemplate: template }, true);
    try {
      await client.send(new RunInstancesCommand(input), { abortSignal: signal });
    } catch (err) {
      if (ec2ErrorCode(err) === "DryRunOperation") return; // would have succeeded
      throw explainEc2Error(
        err,
        "RunInstances",
        signal,
        template === undefined ? this.hints(placement) : this.templateHints(template),
      );
    }
    throw new ProviderError("ec2:RunInstances with DryRun launched an instance: the endpoint ignores DryRun");
  }

  private async chooseType(
    client: EC2Client,
    resources: ResourceRequest,
    signal: AbortSignal,
  ): Promise<InstanceTypeChoice> {
    const allowed =
      this.config.instanceTypes.length === 0
        ? []
        : await this.types.lookup(
            client,
            this.config.instanceTypes,
            { variable: "PODVM_INSTANCE_TYPES", value: this.config.instanceTypes.join(",") },
            signal,
          );
    return chooseProviderInstanceType(resources, {
      allowed,
      defaultType: this.config.instanceType,
      allowedVariable: "PODVM_INSTANCE_TYPES",
      defaultVariable: "PODVM_INSTANCE_TYPE",
    });
  }

  private async awaitRunning(client: EC2Client, id: string, signal: AbortSignal): Promise<VmInstance> {
    const instance = await waitUntilRunning(
      id,
      async (s) => {
        try {
          const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [id] }), { abortSignal: s });
          return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
        } catch (err) {
          // Right after launch EC2 may not show the instance yet (eventual consistency).
          if (ec2ErrorCode(err) === "InvalidInstanceID.NotFound") return undefined;
          throw explainEc2Error(err, "DescribeInstances", s);
        }
      },
      {
        initialDelayMs: this.options.pollInitialMs ?? 1000,
        maxDelayMs: this.options.pollMaxMs ?? 5000,
        usePublicIp: this.config.usePublicIp,
        logger: this.logger,
      },
      signal,
    );
    this.logger.info(
      { vmId: id, address: toVmInstance(instance, this.config.usePublicIp).address },
      "EC2 instance running",
    );
    return toVmInstance(instance, this.config.usePublicIp);
  }

  /** Every instance matching the filters, page by page. */
  private async describeAll(
    client: EC2Client,
    filters: Filter[],
    signal: AbortSignal,
    instanceIds?: string[],
  ): Promise<Instance[]> {
    const out: Instance[] = [];
    let next: string | undefined;
    do {
      let page;
      try {
        // EC2 takes no MaxResults together with instance ids.
        const paging = instanceIds === undefined ? { MaxResults: this.options.pageSize ?? 100, NextToken: next } : {};
        page = await client.send(
          new DescribeInstancesCommand({ Filters: filters, InstanceIds: instanceIds, ...paging }),
          { abortSignal: signal },
        );
      } catch (err) {
        throw explainEc2Error(err, "DescribeInstances", signal);
      }
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      next = page.NextToken === "" ? undefined : page.NextToken;
    } while (next !== undefined);
    return out;
  }
}

function typeHint(choice: InstanceTypeChoice, instanceType: string): SettingHint {
  switch (choice.reason) {
    case "annotation":
      return { variable: `annotation ${ANNOTATIONS.machineType}`, value: instanceType };
    case "default":
      return { variable: "PODVM_INSTANCE_TYPE", value: instanceType };
    case "smallest-fit":
      return { variable: "PODVM_INSTANCE_TYPES", value: instanceType };
  }
}

/** The id of the instance RunInstances answered with, for a VM named `vmName`. */
function launchedId(launched: Instance | undefined, vmName: string): string {
  const id = launched?.InstanceId;
  if (id === undefined)
    throw new ProviderError(`ec2:RunInstances for ${vmName} answered without an instance`, { retryable: true });
  const state = launched?.State?.Name;
  if (state === "shutting-down" || state === "terminated") {
    // EC2 keeps answering a used token with its (now gone) instance.
    throw new ProviderError(
      `instance ${id} launched earlier for ${vmName} with this token is ${state}; a new attempt needs a new token`,
      { retryable: true },
    );
  }
  return id;
}
