// A local endpoint that speaks the EC2 Query protocol the way EC2 does, so the real
// @aws-sdk/client-ec2 can be driven against it: form-encoded `Action=...&Version=2016-11-15`
// POST bodies signed with SigV4, XML answers in the EC2 namespace, XML errors with EC2's codes
// and HTTP statuses. It keeps state (instances, tags, client tokens, pending → running after a
// delay) and injects faults on demand. With a VM launcher, each instance is backed by a real
// VM (a local provider VM in the tests) whose address becomes the instance's private IP.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { badRequest, Ec2Failure, faultFailure } from "./fake-ec2-errors.ts";
import { instanceXml, matchesFilter, stateXml } from "./fake-ec2-instances.ts";
import {
  DEFAULT_INSTANCE_TYPES,
  FAKE_AMI,
  FAKE_KEY_PAIR,
  FAKE_SG,
  FAKE_SUBNET,
  FAKE_VPC,
  type FakeEc2Options,
  type FakeImage,
  type FakeInstanceType,
  type FakeInstanceView,
  type FakeSecurityGroup,
  type FakeSubnet,
  type Fault,
  type Instance,
  type RecordedCall,
  view,
} from "./fake-ec2-model.ts";
import {
  type FakeLaunchTemplate,
  newTemplate,
  parseTemplateData,
  selectTemplates,
  templateForLaunch,
  templateXml,
} from "./fake-ec2-templates.ts";
import { errorBody, itemSet, opt, QueryParams, successBody, type XmlNode } from "./fake-ec2-wire.ts";

export * from "./fake-ec2-model.ts";

interface PendingFault {
  readonly action: string;
  readonly fault: Fault;
  remaining: number;
}

export class FakeEc2 {
  readonly endpoint: string;
  readonly region: string;
  private readonly server: http.Server;
  private readonly options: FakeEc2Options;
  private readonly accountId: string;
  private readonly images: readonly FakeImage[];
  private readonly subnets: readonly FakeSubnet[];
  private readonly groups: readonly FakeSecurityGroup[];
  private readonly types: readonly FakeInstanceType[];
  private readonly keyPairs: ReadonlySet<string>;
  private readonly byId = new Map<string, Instance>();
  /** Launch templates by name. */
  private readonly templates = new Map<string, FakeLaunchTemplate>();
  private readonly tokens = new Map<string, { readonly instanceId: string; readonly fingerprint: string }>();
  private readonly faults: PendingFault[] = [];
  private readonly noCapacity = new Set<string>();
  private readonly recorded: RecordedCall[] = [];
  private readonly background = new Set<Promise<void>>();
  private readonly launcherErrorList: Error[] = [];
  private stuckLaunches = 0;
  private nextHost = 10;
  private nextPublic = 10;

  private constructor(server: http.Server, endpoint: string, options: FakeEc2Options) {
    this.server = server;
    this.endpoint = endpoint;
    this.options = options;
    this.region = options.region ?? "us-east-1";
    this.accountId = options.accountId ?? "123456789012";
    this.images = options.images ?? [{ id: FAKE_AMI, name: "peer-pod-vm", rootDeviceName: "/dev/xvda" }];
    this.subnets = options.subnets ?? [
      { id: FAKE_SUBNET, vpcId: FAKE_VPC, zone: `${this.region}a`, cidrPrefix: "10.0.1", mapPublicIp: false },
    ];
    this.groups = options.securityGroups ?? [{ id: FAKE_SG, name: "peer-pods", vpcId: FAKE_VPC }];
    this.types = options.instanceTypes ?? DEFAULT_INSTANCE_TYPES;
    this.keyPairs = new Set(options.keyPairs ?? [FAKE_KEY_PAIR]);
  }

  static async start(options: FakeEc2Options = {}): Promise<FakeEc2> {
    let fake: FakeEc2 | undefined;
    const server = http.createServer((req, res) => {
      if (fake === undefined) {
        res.destroy();
        return;
      }
      fake.serve(req, res).catch((err: Error) => {
        // A bug in the fake itself: answer as EC2 does for its own failures.
        if (!res.headersSent) send(res, 500, errorBody("InternalError", `fake EC2: ${err.message}`, randomUUID()));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    fake = new FakeEc2(server, `http://127.0.0.1:${port}`, options);
    return fake;
  }

  /** Makes the next `times` calls of `action` ("*" for any) fail with `fault`. */
  inject(action: string, fault: Fault, times = 1): void {
    this.faults.push({ action, fault, remaining: times });
  }

  /** Removes every fault not yet used. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** RunInstances for `type` fails with InsufficientInstanceCapacity while false. */
  setCapacity(type: string, available: boolean): void {
    if (available) this.noCapacity.delete(type);
    else this.noCapacity.add(type);
  }

  /** The next `count` instances launched never leave pending. */
  stickPending(count = 1): void {
    this.stuckLaunches += count;
  }

  instances(): FakeInstanceView[] {
    const now = Date.now();
    return [...this.byId.values()].map((i) => {
      this.advance(i, now);
      return view(i);
    });
  }

  instance(id: string): FakeInstanceView | undefined {
    return this.instances().find((i) => i.id === id);
  }

  /** Instances that cost money: not terminated (shutting-down counts until it ends). */
  liveInstances(): FakeInstanceView[] {
    return this.instances().filter((i) => i.state !== "terminated");
  }

  calls(action?: string): RecordedCall[] {
    return this.recorded.filter((c) => action === undefined || c.action === action);
  }

  /** Errors the launcher threw (launch or terminate). */
  launcherErrors(): readonly Error[] {
    return this.launcherErrorList;
  }

  /** Waits for every launch and termination in flight. */
  async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Stops the endpoint and every VM the launcher still runs. */
  async close(): Promise<void> {
    await this.settle();
    const launcher = this.options.launcher;
    if (launcher !== undefined) {
      for (const i of this.byId.values()) {
        if (i.launched && !i.vmStopped) {
          await launcher.terminate(i.id).catch((err: Error) => this.launcherErrorList.push(err));
          i.vmStopped = true;
        }
      }
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const requestId = randomUUID();
    const params = new QueryParams(Buffer.concat(chunks).toString("utf8"));
    const action = params.get("Action") ?? "";
    const record = (status: number) =>
      this.recorded.push({ action, params: Object.fromEntries(params.entries()), status });
    try {
      if (req.method !== "POST" || req.url !== "/") throw badRequest("InvalidAction", "EC2 answers POST / only");
      if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
        throw badRequest("InvalidParameterValue", "requests must be application/x-www-form-urlencoded");
      }
      this.authenticate(req.headers.authorization);
      if (params.get("Version") !== "2016-11-15")
        throw badRequest("InvalidParameterValue", `Invalid API version: ${params.get("Version") ?? "(none)"}`);
      const fault = this.takeFault(action);
      if (fault !== undefined && fault.kind !== "drop-after-success") throw faultFailure(fault, action, this.accountId);
      const body = this.dispatch(action, params, requestId);
      record(200);
      if (fault?.kind === "drop-after-success") {
        req.socket.destroy();
        return;
      }
      send(res, 200, body);
    } catch (err) {
      if (!(err instanceof Ec2Failure)) throw err;
      record(err.status);
      send(res, err.status, errorBody(err.code, err.message, requestId));
    }
  }

  /** Checks the SigV4 header is there and scoped to this region and EC2 (the signature itself
   * is not recomputed: the fake knows no secret keys). */
  private authenticate(authorization: string | undefined): void {
    const scope = /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request,/.exec(
      authorization ?? "",
    );
    if (scope === null)
      throw new Ec2Failure(401, "AuthFailure", "AWS was not able to validate the provided access credentials");
    if (scope[1] !== this.region || scope[2] !== "ec2") {
      throw new Ec2Failure(401, "AuthFailure", `Credential should be scoped to a valid region, not '${scope[1]}'.`);
    }
  }

  private takeFault(action: string): Fault | undefined {
    const found = this.faults.find((f) => f.remaining > 0 && (f.action === "*" || f.action === action));
    if (found === undefined) return undefined;
    found.remaining--;
    return found.fault;
  }

  private dispatch(action: string, p: QueryParams, requestId: string): string {
    const now = Date.now();
    for (const i of this.byId.values()) this.advance(i, now);
    switch (action) {
      case "RunInstances":
        return successBody(action, requestId, this.runInstances(p));
      case "DescribeInstances":
        return successBody(action, requestId, this.describeInstances(p));
      case "TerminateInstances":
        return successBody(action, requestId, this.terminateInstances(p));
      case "DescribeImages":
        return successBody(action, requestId, this.describeImages(p));
      case "DescribeSubnets":
        return successBody(action, requestId, this.describeSubnets(p));
      case "DescribeSecurityGroups":
        return successBody(action, requestId, this.describeSecurityGroups(p));
      case "DescribeInstanceTypes":
        return successBody(action, requestId, this.describeInstanceTypes(p));
      case "CreateLaunchTemplate":
        return successBody(action, requestId, this.createLaunchTemplate(p));
      case "DescribeLaunchTemplates":
        return successBody(action, requestId, [
          itemSet("launchTemplates", selectTemplates(p, this.templates), (t) => templateXml(t, this.accountId)) ?? [
            "launchTemplates",
            [],
          ],
        ]);
      default:
        throw badRequest("InvalidAction", `The action ${action} is not valid for this web service.`);
    }
  }

  private runInstances(p: QueryParams): (XmlNode | undefined)[] {
    const token = p.get("ClientToken") ?? "";
    if (token.length > 64)
      throw badRequest(
        "InvalidParameterValue",
        `Value (${token}) for parameter clientToken is invalid. Length exceeds maximum of 64`,
      );
    const fingerprint = fingerprintOf(p);
    const previous = token === "" ? undefined : this.tokens.get(token);
    if (previous !== undefined && !p.bool("DryRun")) {
      // Same token: EC2 answers with the instance the first request made, whatever its state.
      if (previous.fingerprint !== fingerprint) {
        throw badRequest(
          "IdempotentParameterMismatch",
          "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
        );
      }
      const existing = this.byId.get(previous.instanceId)!;
      return this.reservationXml(existing);
    }
    // A launch template fills in what the request leaves out; the request wins.
    const template = templateForLaunch(p, this.templates);
    const lt = template?.data;
    const imageId = p.get("ImageId") ?? lt?.imageId;
    if (imageId === undefined || imageId === "")
      throw badRequest("MissingParameter", "The request must contain the parameter ImageId");
    const image = this.findImage(imageId);
    const typeName = p.get("InstanceType") ?? lt?.instanceType ?? "m1.small";
    const type = this.types.find((t) => t.name === typeName);
    if (type === undefined) throw badRequest("InvalidParameterValue", `Invalid value '${typeName}' for InstanceType.`);
    if (required(p, "MinCount") !== "1" || required(p, "MaxCount") !== "1")
      throw badRequest("InvalidParameterValue", "this endpoint launches one instance per call");
    const nic = p.structs("NetworkInterface")[0];
    if (nic !== undefined && (p.has("SubnetId") || p.list("SecurityGroupId").length > 0)) {
      throw badRequest(
        "InvalidParameterCombination",
        "Network interfaces and an instance-level subnet ID or security groups may not be specified on the same request",
      );
    }
    const subnetId = nic === undefined ? (p.get("SubnetId") ?? lt?.subnetId) : p.get(`${nic}.SubnetId`);
    const subnet = subnetId === undefined ? this.subnets[0]! : this.findSubnets([subnetId])[0]!;
    const requestGroups = nic === undefined ? p.list("SecurityGroupId") : p.list(`${nic}.SecurityGroupId`);
    const groupIds = requestGroups.length > 0 ? requestGroups : (lt?.securityGroupIds ?? []);
    const groups = groupIds.length === 0 ? this.groups.slice(0, 1) : this.findGroups(groupIds);
    for (const g of groups) {
      if (g.vpcId !== subnet.vpcId)
        throw badRequest(
          "InvalidParameter",
          `Security group ${g.id} and subnet ${subnet.id} belong to different networks.`,
        );
    }
    const keyName = p.get("KeyName") ?? lt?.keyName;
    if (keyName !== undefined && !this.keyPairs.has(keyName))
      throw badRequest("InvalidKeyPair.NotFound", `The key pair '${keyName}' does not exist`);
    const userDataB64 = p.get("UserData") ?? "";
    const userData = Buffer.from(userDataB64, "base64");
    if (userData.toString("base64") !== userDataB64)
      throw badRequest("InvalidParameterValue", "Invalid BASE64 encoding of user data.");
    if (userData.length > 16384) throw badRequest("InvalidParameterValue", "User data is limited to 16384 bytes");
    const amdSevSnp = p.get("CpuOptions.AmdSevSnp") ?? lt?.amdSevSnp;
    if (amdSevSnp === "enabled" && type.sevSnp !== true) {
      throw badRequest("UnsupportedOperation", `The instance type ${type.name} does not support AMD SEV-SNP.`);
    }
    const tags = new Map<string, string>();
    const volumeTags = new Map<string, string>();
    if (template !== undefined) {
      // EC2 marks an instance launched from a template with the template's id and version.
      tags.set("aws:ec2launchtemplate:id", template.id);
      tags.set("aws:ec2launchtemplate:version", "1");
    }
    for (const spec of p.structs("TagSpecification")) {
      const resource = p.get(`${spec}.ResourceType`);
      const target = resource === "instance" ? tags : resource === "volume" ? volumeTags : undefined;
      if (target === undefined)
        throw badRequest(
          "InvalidParameterValue",
          `'${resource ?? ""}' is not a valid taggable resource type for this operation.`,
        );
      for (const tag of p.structs(`${spec}.Tag`)) {
        const key = p.get(`${tag}.Key`) ?? "";
        if (key === "" || key.length > 128 || key.toLowerCase().startsWith("aws:"))
          throw badRequest("InvalidParameterValue", `Tag key '${key}' is not valid`);
        target.set(key, p.get(`${tag}.Value`) ?? "");
      }
    }
    const mapping = p.structs("BlockDeviceMapping").find((m) => p.get(`${m}.DeviceName`) === image.rootDeviceName);
    if (p.structs("BlockDeviceMapping").some((m) => p.get(`${m}.DeviceName`) === undefined))
      throw badRequest("MissingParameter", "The request must contain the parameter deviceName");
    const templateSize = lt?.blockDevices.find((b) => b.deviceName === image.rootDeviceName)?.sizeGiB;
    const sizeText =
      mapping === undefined
        ? templateSize?.toString()
        : (p.get(`${mapping}.Ebs.VolumeSize`) ?? templateSize?.toString());
    if (p.bool("DryRun"))
      throw new Ec2Failure(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    if (this.noCapacity.has(type.name)) {
      throw new Ec2Failure(
        500,
        "InsufficientInstanceCapacity",
        `We currently do not have sufficient ${type.name} capacity in the Availability Zone you requested (${subnet.zone}). Our system will be working on provisioning additional capacity.`,
      );
    }

    const id = `i-${randomBytes(9).toString("hex").slice(0, 17)}`;
    const instance: Instance = {
      id,
      reservationId: `r-${randomBytes(9).toString("hex").slice(0, 17)}`,
      type: type.name,
      imageId: image.id,
      rootDeviceName: image.rootDeviceName,
      state: "pending",
      stateReason: { code: "pending", message: "pending" },
      tags,
      volumeTags,
      clientToken: token,
      subnet,
      groups,
      keyName,
      userData: userData.toString("utf8"),
      httpTokens: p.get("MetadataOptions.HttpTokens") ?? lt?.httpTokens ?? "optional",
      amdSevSnp,
      wantsPublicIp:
        nic === undefined ? (lt?.associatePublicIp ?? subnet.mapPublicIp) : p.bool(`${nic}.AssociatePublicIpAddress`),
      launchTemplate: template?.name,
      rootVolume: {
        deviceName: image.rootDeviceName,
        sizeGiB: sizeText === undefined ? undefined : Number(sizeText),
        deleteOnTermination: mapping === undefined || p.bool(`${mapping}.Ebs.DeleteOnTermination`),
      },
      launchTime: new Date(),
      privateIp: undefined,
      publicIp: undefined,
      launched: false,
      stuckPending: this.stuckLaunches > 0,
      shutdownAt: undefined,
      vmStopped: false,
    };
    if (this.stuckLaunches > 0) this.stuckLaunches--;
    this.byId.set(id, instance);
    if (token !== "") this.tokens.set(token, { instanceId: id, fingerprint });
    this.launch(instance);
    return this.reservationXml(instance);
  }

  private createLaunchTemplate(p: QueryParams): XmlNode[] {
    const template = newTemplate(p.get("LaunchTemplateName"), parseTemplateData(p));
    if (this.templates.has(template.name))
      throw badRequest("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.");
    if (p.bool("DryRun"))
      throw new Ec2Failure(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    this.templates.set(template.name, template);
    return [["launchTemplate", templateXml(template, this.accountId)]];
  }

  private launch(i: Instance): void {
    const launcher = this.options.launcher;
    if (launcher === undefined) {
      i.privateIp = `${i.subnet.cidrPrefix}.${this.nextHost++}`;
      i.launched = true;
      return;
    }
    this.track(
      launcher
        .launch({
          instanceId: i.id,
          instanceType: i.type,
          imageId: i.imageId,
          clientToken: i.clientToken,
          userData: i.userData,
          tags: Object.fromEntries(i.tags),
        })
        .then(
          async (addr) => {
            i.launched = true;
            i.privateIp = addr.privateIp;
            if (addr.publicIp !== undefined) i.publicIp = addr.publicIp;
            // Terminated while the VM was booting: stop it now.
            if (i.state === "shutting-down" || i.state === "terminated") await this.stopVm(i);
          },
          (err: Error) => {
            this.launcherErrorList.push(err);
            i.state = "terminated";
            i.vmStopped = true;
            i.stateReason = { code: "Server.InternalError", message: "Server.InternalError: Internal error on launch" };
          },
        ),
    );
  }

  private async stopVm(i: Instance): Promise<void> {
    if (i.vmStopped) return;
    i.vmStopped = true;
    await this.options.launcher?.terminate(i.id);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: Error) => {
      this.launcherErrorList.push(err);
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** Moves an instance along its life cycle as time passes. */
  private advance(i: Instance, now: number): void {
    if (
      i.state === "pending" &&
      !i.stuckPending &&
      i.launched &&
      now - i.launchTime.getTime() >= (this.options.bootDelayMs ?? 50)
    ) {
      i.state = "running";
      i.stateReason = undefined;
      if (i.wantsPublicIp && i.publicIp === undefined) i.publicIp = `203.0.113.${this.nextPublic++}`;
    }
    if (
      i.state === "shutting-down" &&
      i.vmStopped &&
      now - (i.shutdownAt ?? now) >= (this.options.shutdownDelayMs ?? 30)
    ) {
      i.state = "terminated";
      i.publicIp = undefined;
    }
  }

  private describeInstances(p: QueryParams): (XmlNode | undefined)[] {
    const ids = p.list("InstanceId");
    const maxText = p.get("MaxResults");
    if (ids.length > 0 && maxText !== undefined) {
      throw badRequest(
        "InvalidParameterCombination",
        "The parameter instancesSet cannot be used with the parameter maxResults",
      );
    }
    let matched: Instance[];
    if (ids.length > 0) {
      matched = this.findInstances(ids);
    } else {
      matched = [...this.byId.values()];
    }
    const filters = p.structs("Filter").map((f) => ({ name: p.get(`${f}.Name`) ?? "", values: p.list(`${f}.Value`) }));
    for (const f of filters) matched = matched.filter((i) => matchesFilter(i, f.name, f.values));

    let page = matched;
    let nextToken: string | undefined;
    if (maxText !== undefined) {
      const max = Number(maxText);
      if (!Number.isInteger(max) || max < 5 || max > 1000) {
        throw badRequest(
          "InvalidParameterValue",
          `Value ( ${maxText} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
        );
      }
      const scope = createHash("sha256").update(JSON.stringify(filters)).digest("hex").slice(0, 16);
      const start = this.readPageToken(p.get("NextToken"), scope);
      page = matched.slice(start, start + max);
      if (start + max < matched.length)
        nextToken = Buffer.from(JSON.stringify({ start: start + max, scope })).toString("base64url");
    } else if (p.get("NextToken") !== undefined) {
      page = matched.slice(this.readPageToken(p.get("NextToken"), ""));
    }
    return [
      ["reservationSet", page.map((i): XmlNode => ["item", this.reservationXml(i)])],
      opt("nextToken", nextToken),
    ];
  }

  private readPageToken(token: string | undefined, scope: string): number {
    if (token === undefined) return 0;
    try {
      const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { start: number; scope: string };
      if (Number.isInteger(parsed.start) && parsed.scope === scope) return parsed.start;
    } catch {
      // fall through to the error EC2 gives
    }
    throw badRequest("InvalidPaginationToken", "The specified pagination token is not valid or is expired.");
  }

  private terminateInstances(p: QueryParams): XmlNode[] {
    const ids = p.list("InstanceId");
    if (ids.length === 0) throw badRequest("MissingParameter", "The request must contain the parameter InstanceId");
    const found = this.findInstances(ids);
    const now = Date.now();
    const changes = found.map((i) => {
      const previous = i.state;
      if (previous !== "terminated" && previous !== "shutting-down") {
        i.state = "shutting-down";
        i.shutdownAt = now;
        i.stateReason = {
          code: "Client.UserInitiatedShutdown",
          message: "Client.UserInitiatedShutdown: User initiated shutdown",
        };
        // A VM still booting is stopped when its launch answers (see launch()).
        if (i.launched) this.track(this.stopVm(i));
      }
      return { i, previous };
    });
    return [
      [
        "instancesSet",
        changes.map(
          ({ i, previous }): XmlNode => [
            "item",
            [
              ["instanceId", i.id],
              ["currentState", stateXml(i.state)],
              ["previousState", stateXml(previous)],
            ],
          ],
        ),
      ],
    ];
  }

  private describeImages(p: QueryParams): XmlNode[] {
    const ids = p.list("ImageId");
    const images = ids.length === 0 ? this.images : ids.map((id) => this.findImage(id));
    return [
      itemSet("imagesSet", images, (img) => [
        ["imageId", img.id],
        ["imageLocation", `${this.accountId}/${img.name}`],
        ["imageState", img.state ?? "available"],
        ["imageOwnerId", this.accountId],
        ["creationDate", "2024-05-01T10:00:00.000Z"],
        ["isPublic", false],
        ["architecture", "x86_64"],
        ["imageType", "machine"],
        ["name", img.name],
        ["rootDeviceType", "ebs"],
        ["rootDeviceName", img.rootDeviceName],
        [
          "blockDeviceMapping",
          [
            [
              "item",
              [
                ["deviceName", img.rootDeviceName],
                [
                  "ebs",
                  [
                    ["volumeSize", 20],
                    ["deleteOnTermination", true],
                    ["volumeType", "gp3"],
                  ],
                ],
              ],
            ],
          ],
        ],
        ["virtualizationType", "hvm"],
        ["hypervisor", "xen"],
        ["enaSupport", true],
        ["bootMode", "uefi"],
      ]) ?? ["imagesSet", []],
    ];
  }

  private findImage(id: string): FakeImage {
    if (!/^ami-[0-9a-f]{8,17}$/.test(id))
      throw badRequest("InvalidAMIID.Malformed", `Invalid id: "${id}" (expecting "ami-...")`);
    const image = this.images.find((i) => i.id === id);
    if (image === undefined) throw badRequest("InvalidAMIID.NotFound", `The image id '[${id}]' does not exist`);
    return image;
  }

  private describeSubnets(p: QueryParams): XmlNode[] {
    const ids = p.list("SubnetId");
    const subnets = ids.length === 0 ? this.subnets : this.findSubnets(ids);
    return [
      itemSet("subnetSet", subnets, (s) => [
        ["subnetId", s.id],
        ["subnetArn", `arn:aws:ec2:${this.region}:${this.accountId}:subnet/${s.id}`],
        ["state", "available"],
        ["ownerId", this.accountId],
        ["vpcId", s.vpcId],
        ["cidrBlock", `${s.cidrPrefix}.0/24`],
        ["availableIpAddressCount", 250],
        ["availabilityZone", s.zone],
        ["defaultForAz", false],
        ["mapPublicIpOnLaunch", s.mapPublicIp],
      ]) ?? ["subnetSet", []],
    ];
  }

  private findSubnets(ids: readonly string[]): FakeSubnet[] {
    return ids.map((id) => {
      if (!/^subnet-[0-9a-f]{8,17}$/.test(id))
        throw badRequest("InvalidSubnetID.Malformed", `Invalid id: "${id}" (expecting "subnet-...")`);
      const s = this.subnets.find((x) => x.id === id);
      if (s === undefined) throw badRequest("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
      return s;
    });
  }

  private describeSecurityGroups(p: QueryParams): XmlNode[] {
    const ids = p.list("GroupId");
    const groups = ids.length === 0 ? this.groups : this.findGroups(ids);
    return [
      itemSet("securityGroupInfo", groups, (g) => [
        ["ownerId", this.accountId],
        ["groupId", g.id],
        ["groupName", g.name],
        ["groupDescription", `${g.name} security group`],
        ["vpcId", g.vpcId],
        ["securityGroupArn", `arn:aws:ec2:${this.region}:${this.accountId}:security-group/${g.id}`],
      ]) ?? ["securityGroupInfo", []],
    ];
  }

  private findGroups(ids: readonly string[]): FakeSecurityGroup[] {
    const missing: string[] = [];
    const found: FakeSecurityGroup[] = [];
    for (const id of ids) {
      if (!/^sg-[0-9a-f]{8,17}$/.test(id))
        throw badRequest("InvalidGroupId.Malformed", `Invalid id: "${id}" (expecting "sg-...")`);
      const g = this.groups.find((x) => x.id === id);
      if (g === undefined) missing.push(id);
      else found.push(g);
    }
    if (missing.length > 0)
      throw badRequest("InvalidGroup.NotFound", `The security group '${missing.join(", ")}' does not exist`);
    return found;
  }

  private describeInstanceTypes(p: QueryParams): XmlNode[] {
    const names = p.list("InstanceType");
    const unknown = names.filter((n) => !this.types.some((t) => t.name === n));
    if (unknown.length > 0)
      throw badRequest(
        "InvalidInstanceType",
        `The following supplied instance types do not exist: [${unknown.join(", ")}]`,
      );
    const types = names.length === 0 ? this.types : this.types.filter((t) => names.includes(t.name));
    return [
      itemSet("instanceTypeSet", types, (t) => [
        ["instanceType", t.name],
        ["currentGeneration", true],
        ["bareMetal", false],
        ["hypervisor", "nitro"],
        [
          "processorInfo",
          [
            ["supportedArchitectures", [["item", "x86_64"]]],
            ["manufacturer", t.sevSnp === true ? "AMD" : "Intel"],
            t.sevSnp === true ? ["supportedFeatures", [["item", "amd-sev-snp"]]] : undefined,
          ],
        ],
        [
          "vCpuInfo",
          [
            ["defaultVCpus", t.vcpus],
            ["defaultCores", Math.max(1, t.vcpus / 2)],
            ["defaultThreadsPerCore", t.vcpus > 1 ? 2 : 1],
          ],
        ],
        ["memoryInfo", [["sizeInMiB", t.memoryMiB]]],
        (t.gpus ?? 0) > 0
          ? [
              "gpuInfo",
              [
                [
                  "gpus",
                  [
                    [
                      "item",
                      [
                        ["name", "A10G"],
                        ["manufacturer", "NVIDIA"],
                        ["count", t.gpus!],
                        ["memoryInfo", [["sizeInMiB", 24576]]],
                      ],
                    ],
                  ],
                ],
                ["totalGpuMemoryInMiB", 24576 * t.gpus!],
              ],
            ]
          : undefined,
      ]) ?? ["instanceTypeSet", []],
    ];
  }

  private findInstances(ids: readonly string[]): Instance[] {
    const missing: string[] = [];
    const found: Instance[] = [];
    for (const id of ids) {
      if (!/^i-[0-9a-f]{8,17}$/.test(id)) throw badRequest("InvalidInstanceID.Malformed", `Invalid id: "${id}"`);
      const i = this.byId.get(id);
      if (i === undefined) missing.push(id);
      else found.push(i);
    }
    if (missing.length === 1)
      throw badRequest("InvalidInstanceID.NotFound", `The instance ID '${missing[0]}' does not exist`);
    if (missing.length > 1)
      throw badRequest("InvalidInstanceID.NotFound", `The instance IDs '${missing.join(", ")}' do not exist`);
    return found;
  }

  /** A reservation (one per instance here) as RunInstances and DescribeInstances give it. */
  private reservationXml(i: Instance): (XmlNode | undefined)[] {
    return [
      ["reservationId", i.reservationId],
      ["ownerId", this.accountId],
      itemSet("groupSet", i.groups, (g) => [
        ["groupId", g.id],
        ["groupName", g.name],
      ]),
      ["instancesSet", [["item", instanceXml(i)]]],
    ];
  }
}

function required(p: QueryParams, name: string): string {
  const v = p.get(name);
  if (v === undefined || v === "")
    throw badRequest("MissingParameter", `The request must contain the parameter ${name}`);
  return v;
}

/** What makes two RunInstances "the same request" for idempotency. */
function fingerprintOf(p: QueryParams): string {
  const relevant = p
    .entries()
    .filter(([k]) => k !== "Action" && k !== "Version" && k !== "DryRun")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify(relevant)).digest("hex");
}

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "content-type": "text/xml;charset=UTF-8",
    "content-length": Buffer.byteLength(body),
    server: "AmazonEC2",
  });
  res.end(body);
}
