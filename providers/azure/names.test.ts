import { describe, expect, it } from "vitest";
import { vmNameFor } from "../../src/sandbox/vm-name.ts";
import { azureVmNames } from "./names.ts";

describe("Azure resource names of a VM", () => {
  it("derives the NIC, disk and public IP names from the VM name, within Azure's limits", () => {
    const name = vmNameFor(
      {
        sandboxId: "5c1f0e9a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
        node: "worker-1",
        cluster: "prod",
      },
      "a-very-long-deployment-name-with-a-replicaset-suffix-7d9f8c6b5-xk2lp",
    );
    const names = azureVmNames(name)!;
    expect(names.vm).toBe(name);
    expect(names.vm.length).toBeLessThanOrEqual(64);
    expect(names.computerName).toBe(name);
    for (const n of [names.nic, names.osDisk, names.publicIp]) {
      expect(n.startsWith(name)).toBe(true);
      expect(n.length).toBeLessThanOrEqual(80);
    }
  });

  it("makes a Linux host name of names holding '_' or '.'", () => {
    expect(azureVmNames("pod_vm.x_")!.computerName).toBe("pod-vm-x");
  });

  it("refuses names Azure would refuse", () => {
    expect(azureVmNames("a".repeat(65))).toBeUndefined();
    expect(azureVmNames("-podvm")).toBeUndefined();
    expect(azureVmNames("podvm-")).toBeUndefined();
    expect(azureVmNames("pod vm")).toBeUndefined();
    expect(azureVmNames("12345")).toBeUndefined();
    expect(azureVmNames("a".repeat(64))).toBeDefined();
  });
});
