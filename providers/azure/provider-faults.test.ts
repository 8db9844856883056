// Every fault the fake Azure endpoint injects ends in a clear error or a successful retry, and
// leaves nothing behind that no sandbox owns.
import { afterEach, describe, expect, it } from "vitest";
import { type AzureTestBed, azureTestBed } from "../../test/support/azure-test-bed.ts";
import type { FaultAction, FaultRule } from "../../test/support/fake-arm.ts";
import { ProviderError, type ResourceRequest } from "../provider.ts";
import { armFailure } from "./arm-error.ts";

let bed: AzureTestBed | undefined;
afterEach(async () => {
  if (bed !== undefined) expect(bed.fake.model.backgroundErrors).toEqual([]);
  await bed?.close();
  bed = undefined;
});

const deadline = () => AbortSignal.timeout(15_000);
const SIZES = "Standard_DC2as_v5,Standard_DC4as_v5,Standard_EC4as_v5,Standard_DC8as_v5";

function counts(b: AzureTestBed) {
  const m = b.fake.model;
  return { vms: m.vms.size, nics: m.nics.size, disks: m.disks.size, publicIps: m.publicIps.size };
}
const NOTHING = { vms: 0, nics: 0, disks: 0, publicIps: 0 };
const ONE_VM = { vms: 1, nics: 1, disks: 1, publicIps: 0 };

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

/** A VM PUT meeting `action` (of the size `vmSize` only, when given). */
function vmPut(action: FaultAction, vmSize?: string): FaultRule {
  return { method: "PUT", type: "virtualMachines", ...(vmSize === undefined ? {} : { vmSize }), action };
}

interface RefusedCreate {
  readonly title: string;
  readonly bed?: Parameters<typeof azureTestBed>[0];
  /** The fault injected before the create; without one, the fake refuses on its own. */
  readonly fault?: FaultRule;
  readonly vm: string;
  readonly resources?: Partial<ResourceRequest>;
  /** What the error says: a string it contains, or a pattern it matches. */
  readonly says: string | RegExp;
  /** Whether the error says to retry, where the case asserts it. */
  readonly retryable?: boolean;
  /** What else the case asserts, before that nothing is left. */
  readonly also: (bed: AzureTestBed, err: ProviderError) => void;
}

const REFUSED_CREATES: readonly RefusedCreate[] = [
  {
    title: "deletes the Failed VM and its NIC when the creation ends Failed, naming the code it parsed",
    fault: vmPut({
      kind: "fail-operation",
      code: "OSProvisioningClientError",
      message: "OS provisioning failed for VM 'podvm-f1' due to an error reported by the guest.",
    }),
    vm: "podvm-f1",
    says: "Azure refused to create VM podvm-f1 (size Standard_DC2as_v5): OSProvisioningClientError: OS provisioning failed",
    retryable: false,
    also: (b, err) => {
      // The SDK reported it as a plain error whose message alone carries the code.
      const sdkError = err.cause as Error;
      expect(sdkError.name).toBe("Error");
      expect(sdkError.message).toMatch(/^The long-running operation has failed\. OSProvisioningClientError\. /);
      expect(armFailure(sdkError).code).toBe("OSProvisioningClientError");
      expect(b.fake.count("DELETE", "virtualMachines")).toBe(1);
    },
  },
  {
    title: "reports no capacity, retryable, for a size nobody chose by fit, and cleans up",
    fault: vmPut({
      kind: "fail-operation",
      code: "AllocationFailed",
      message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
    }),
    vm: "podvm-f2",
    says: "Azure has no capacity for VM podvm-f2 in eastus: tried Standard_DC2as_v5 (AllocationFailed: Allocation failed.",
    retryable: true,
    also: (b) => expect(b.fake.count("PUT", "virtualMachines")).toBe(1),
  },
  {
    title: "does not swap a size the pod named; a quota error says what to raise",
    bed: { env: { AZURE_INSTANCE_SIZES: SIZES } },
    fault: vmPut({
      kind: "error",
      status: 409,
      code: "OperationNotAllowed",
      message: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
    }),
    vm: "podvm-f5",
    resources: { instanceType: "Standard_DC4as_v5" },
    says: /Azure quota exhausted creating VM podvm-f5 \(size Standard_DC4as_v5\) in eastus: .* raise the quota or lower PEERPODS_LIMIT_PER_NODE/,
    retryable: true,
    also: (b) => expect(b.fake.count("PUT", "virtualMachines")).toBe(1),
  },
  {
    title: "deletes the NIC it made when the VM PUT is refused",
    fault: vmPut({
      kind: "error",
      status: 400,
      code: "InvalidParameter",
      message: "The gallery image version is not replicated to region eastus.",
    }),
    vm: "podvm-f6",
    says: "InvalidParameter: The gallery image version is not replicated to region eastus. (check AZURE_IMAGE_ID)",
    retryable: false,
    also: (b) => {
      expect(b.fake.count("PUT", "networkInterfaces")).toBe(1);
      expect(b.fake.count("DELETE", "networkInterfaces")).toBe(1);
    },
  },
  {
    title: "surfaces Azure's own refusal of a confidential VM on a size without it",
    bed: { env: { AZURE_INSTANCE_SIZE: "Standard_D2as_v5" } },
    vm: "podvm-f7",
    says: "BadRequest: The VM size 'Standard_D2as_v5' is not supported for creation of VMs with Security Type ConfidentialVM.",
    also: (_b, err) => expect(err.message).toContain("DISABLECVM=true creates ordinary VMs"),
  },
  {
    title: "names a permission Azure refuses before anything is made",
    fault: {
      method: "GET",
      type: "virtualMachines",
      action: {
        kind: "error",
        status: 403,
        code: "AuthorizationFailed",
        message:
          "The client 'peerpods' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/read' over scope '/subscriptions/…/resourceGroups/rg-peerpods'.",
      },
    },
    vm: "podvm-f8",
    says: /^preparing Azure VM podvm-f8: AuthorizationFailed: The client 'peerpods' does not have authorization .*virtualMachines\/read/,
    retryable: false,
    also: () => {},
  },
];

describe("Azure provider under failed creates", () => {
  it.each(REFUSED_CREATES)("$title", async (c) => {
    bed = await azureTestBed(c.bed);
    if (c.fault !== undefined) bed.fake.inject(c.fault);
    const request = bed.request(c.vm, c.resources === undefined ? {} : { resources: c.resources });
    const err = await failure(bed.provider.createVm(request, deadline()));
    if (typeof c.says === "string") expect(err.message).toContain(c.says);
    else expect(err.message).toMatch(c.says);
    if (c.retryable !== undefined) expect(err.retryable).toBe(c.retryable);
    c.also(bed, err);
    expect(counts(bed)).toEqual(NOTHING);
  });

  it("falls back to the next fitting size on AllocationFailed, SkuNotAvailable and QuotaExceeded", async () => {
    bed = await azureTestBed({ env: { AZURE_INSTANCE_SIZES: SIZES } });
    bed.fake.inject(
      vmPut({ kind: "fail-operation", code: "AllocationFailed", message: "Allocation failed." }, "Standard_DC4as_v5"),
    );
    bed.fake.inject(
      vmPut(
        {
          kind: "error",
          status: 409,
          code: "SkuNotAvailable",
          message:
            "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: Standard_EC4as_v5' is currently not available in location 'eastus'.",
        },
        "Standard_EC4as_v5",
      ),
    );
    const vm = await bed.provider.createVm(bed.request("podvm-f3", { resources: { vcpus: 3 } }), deadline());
    expect(vm.details?.instanceType).toBe("Standard_DC8as_v5");
    const sizes = bed.fake.requests.filter((r) => r.method === "PUT" && r.type === "virtualMachines").length;
    expect(sizes).toBe(3);
    expect(counts(bed)).toEqual(ONE_VM);
    expect(bed.fake.model.vms.get("podvm-f3")!.size).toBe("Standard_DC8as_v5");

    bed.fake.inject(
      vmPut(
        {
          kind: "fail-operation",
          code: "QuotaExceeded",
          message:
            "Operation could not be completed as it results in exceeding approved standardDCASv5Family Cores quota. Current Limit: 8, Current Usage: 8, Additional Required: 2.",
        },
        "Standard_DC2as_v5",
      ),
    );
    const next = await bed.provider.createVm(
      bed.request("podvm-f4", { resources: { vcpus: 1, memoryMiB: 2048 } }),
      deadline(),
    );
    expect(next.details?.instanceType).toBe("Standard_DC4as_v5");
  });
});

describe("Azure provider under throttling and transient failures", () => {
  it("waits out a 429 with Retry-After and succeeds within the deadline", async () => {
    bed = await azureTestBed();
    const throttle = bed.fake.inject({
      method: "PUT",
      type: "virtualMachines",
      action: { kind: "throttle", retryAfterSeconds: 1 },
    });
    await bed.provider.createVm(bed.request("podvm-t1"), deadline());
    // One throttled PUT, then one retry that succeeded: not a burst of retries.
    expect(throttle.hits).toBe(1);
    expect(bed.fake.count("PUT", "virtualMachines")).toBe(2);
    expect(counts(bed)).toEqual(ONE_VM);
  });

  it("polls long-running operations at Azure's Retry-After, not faster", async () => {
    bed = await azureTestBed({ fake: { retryAfterSeconds: 1, operationMs: 300 } });
    await bed.provider.createVm(bed.request("podvm-t9"), deadline());
    // Two operations (NIC, VM), each polled at the client's interval, answered "InProgress,
    // Retry-After: 1", and polled again a second later (at 20 ms it would take ~15 polls).
    expect(bed.fake.count("GET", "operations")).toBe(4);
  });

  it("gives up at the deadline when Azure throttles longer, and the rollback leaves nothing", async () => {
    bed = await azureTestBed();
    const throttle = bed.fake.inject({
      method: "PUT",
      type: "virtualMachines",
      action: { kind: "throttle", retryAfterSeconds: 120 },
    });
    const err = await failure(bed.provider.createVm(bed.request("podvm-t2"), AbortSignal.timeout(5000)));
    // The one throttled PUT: it neither retried before Retry-After nor waited past the deadline
    // (120 s would outlast the test's timeout).
    expect(throttle.hits).toBe(1);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain("deadline reached while creating Azure VM podvm-t2");
    // What the manager's rollback does next.
    await bed.provider.deleteVm({ id: undefined, name: "podvm-t2", owner: bed.request("podvm-t2").owner }, deadline());
    expect(counts(bed)).toEqual(NOTHING);
  });

  it("retries 5xx answers, polls and lists", async () => {
    bed = await azureTestBed();
    bed.fake.inject({
      method: "PUT",
      type: "networkInterfaces",
      action: { kind: "error", status: 500, code: "InternalServerError", message: "An unexpected error occured." },
      times: 2,
    });
    bed.fake.inject({
      method: "GET",
      type: "operations",
      action: { kind: "error", status: 503, code: "ServiceUnavailable", message: "busy" },
      times: 2,
    });
    bed.fake.inject({ method: "GET", type: "disks", action: { kind: "throttle", retryAfterSeconds: 0 }, times: 1 });
    await bed.provider.createVm(bed.request("podvm-t3"), deadline());
    const owned = await bed.provider.listOwnedVms({ node: "worker-a", cluster: "cluster-1" }, deadline());
    expect(owned.map((v) => v.name)).toEqual(["podvm-t3"]);
    expect(counts(bed)).toEqual(ONE_VM);
  });

  it("resends a request whose connection dropped before it was read", async () => {
    bed = await azureTestBed();
    const drop = bed.fake.inject({ method: "PUT", type: "networkInterfaces", action: { kind: "drop" } });
    await bed.provider.createVm(bed.request("podvm-t4"), deadline());
    expect(drop.hits).toBe(1);
    expect(counts(bed)).toEqual(ONE_VM);
  });

  it("waits for the VM whose PUT took effect before the connection dropped, making no second VM", async () => {
    bed = await azureTestBed({ fake: { operationMs: 500 } });
    const drop = bed.fake.inject({ method: "PUT", type: "virtualMachines", action: { kind: "drop-after-accept" } });
    const vm = await bed.provider.createVm(bed.request("podvm-t5"), deadline());
    expect(drop.hits).toBe(1);
    const puts = bed.fake.requests
      .filter((r) => r.method === "PUT" && r.type === "virtualMachines")
      .map((r) => r.status);
    // The SDK resent the PUT; Azure answered that the first one is still running.
    expect(puts).toEqual(["dropped", 409]);
    expect(vm.id).toBe(bed.fake.model.vms.get("podvm-t5")!.id);
    expect(bed.fake.model.vms.get("podvm-t5")!.provisioningState).toBe("Succeeded");
    expect(counts(bed)).toEqual(ONE_VM);
  });

  it("finishes a delete whose connection dropped after Azure took it", async () => {
    bed = await azureTestBed();
    const vm = await bed.provider.createVm(bed.request("podvm-t6"), deadline());
    bed.fake.inject({ method: "DELETE", type: "virtualMachines", action: { kind: "drop-after-accept" } });
    await bed.provider.deleteVm(vm, deadline());
    await bed.fake.idle();
    expect(counts(bed)).toEqual(NOTHING);
  });

  it("waits out a NIC Azure still reserves after a failed VM", async () => {
    bed = await azureTestBed();
    const vm = await bed.provider.createVm(bed.request("podvm-t7"), deadline());
    bed.fake.model.abandonVm(vm.name); // the VM failed and is gone; its NIC stays a while
    const reserved = bed.fake.inject({
      method: "DELETE",
      type: "networkInterfaces",
      times: 2,
      action: {
        kind: "error",
        status: 400,
        code: "NicReservedForAnotherVm",
        message:
          "Nic(s) in request is reserved for another Virtual Machine for 180 seconds. Please provide another nic(s) or retry after 180 seconds.",
      },
    });
    await bed.provider.deleteVm(vm, deadline());
    expect(reserved.hits).toBe(2);
    expect(counts(bed)).toEqual(NOTHING);
  });

  it("reports a delete that cannot finish before its deadline as retryable", async () => {
    bed = await azureTestBed();
    const vm = await bed.provider.createVm(bed.request("podvm-t8"), deadline());
    bed.fake.inject({ method: "DELETE", type: "virtualMachines", action: { kind: "throttle", retryAfterSeconds: 30 } });
    const err = await failure(bed.provider.deleteVm(vm, AbortSignal.timeout(500)));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain("deadline reached while deleting Azure VM podvm-t8");
    bed.fake.clearFaults();
    await bed.provider.deleteVm(vm, deadline());
    expect(counts(bed)).toEqual(NOTHING);
  });
});
