// How the fake EC2 endpoint shows an instance (XML) and selects instances (DescribeInstances
// filters).

import { badRequest } from "./fake-ec2-errors.ts";
import { type FakeInstanceState, type Instance, STATE_CODES } from "./fake-ec2-model.ts";
import { itemSet, opt, type XmlNode } from "./fake-ec2-wire.ts";

/** An instance as EC2's DescribeInstances and RunInstances show it. */
export function instanceXml(i: Instance): (XmlNode | undefined)[] {
  return [
    ["instanceId", i.id],
    ["imageId", i.imageId],
    ["instanceState", stateXml(i.state)],
    ["privateDnsName", i.privateIp === undefined ? "" : `ip-${i.privateIp.replaceAll(".", "-")}.ec2.internal`],
    ["dnsName", ""],
    [
      "reason",
      i.state === "terminated" || i.state === "shutting-down" ? `User initiated (${i.launchTime.toISOString()})` : "",
    ],
    opt("keyName", i.keyName),
    ["amiLaunchIndex", 0],
    ["instanceType", i.type],
    ["launchTime", i.launchTime.toISOString()],
    [
      "placement",
      [
        ["availabilityZone", i.subnet.zone],
        ["groupName", ""],
        ["tenancy", "default"],
      ],
    ],
    ["monitoring", [["state", "disabled"]]],
    ["subnetId", i.subnet.id],
    ["vpcId", i.subnet.vpcId],
    opt("privateIpAddress", i.privateIp),
    opt("ipAddress", i.publicIp),
    ["sourceDestCheck", true],
    itemSet("groupSet", i.groups, (g) => [
      ["groupId", g.id],
      ["groupName", g.name],
    ]),
    i.stateReason === undefined
      ? undefined
      : [
          "stateReason",
          [
            ["code", i.stateReason.code],
            ["message", i.stateReason.message],
          ],
        ],
    ["architecture", "x86_64"],
    ["rootDeviceType", "ebs"],
    ["rootDeviceName", i.rootDeviceName],
    ["virtualizationType", "hvm"],
    ["clientToken", i.clientToken],
    itemSet("tagSet", [...i.tags], ([k, v]) => [
      ["key", k],
      ["value", v],
    ]),
    ["hypervisor", "xen"],
    ["ebsOptimized", false],
    ["enaSupport", true],
    ["cpuOptions", [["coreCount", 1], ["threadsPerCore", 2], opt("amdSevSnp", i.amdSevSnp)]],
    [
      "metadataOptions",
      [
        ["state", i.state === "pending" ? "pending" : "applied"],
        ["httpTokens", i.httpTokens],
        ["httpPutResponseHopLimit", 2],
        ["httpEndpoint", "enabled"],
      ],
    ],
    ["bootMode", "uefi"],
  ];
}

export function stateXml(state: FakeInstanceState): XmlNode[] {
  return [
    ["code", STATE_CODES[state]],
    ["name", state],
  ];
}

/** EC2's filters used by the provider; anything else is refused as EC2 refuses unknown names. */
export function matchesFilter(i: Instance, name: string, values: readonly string[]): boolean {
  const any = (candidate: string | undefined) => candidate !== undefined && values.some((v) => globMatch(v, candidate));
  if (name.startsWith("tag:")) return any(i.tags.get(name.slice(4)));
  switch (name) {
    case "tag-key":
      return [...i.tags.keys()].some((k) => any(k));
    case "instance-state-name":
      return any(i.state);
    case "instance-state-code":
      return any(String(STATE_CODES[i.state]));
    case "client-token":
      return any(i.clientToken);
    case "instance-id":
      return any(i.id);
    case "instance-type":
      return any(i.type);
    case "subnet-id":
      return any(i.subnet.id);
    default:
      throw badRequest("InvalidParameterValue", `The filter '${name}' is invalid`);
  }
}

/** EC2 filter values allow `*` and `?` wildcards. */
function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")}$`,
    "s",
  );
  return re.test(text);
}
