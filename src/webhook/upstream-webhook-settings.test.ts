import { describe, expect, it } from "vitest";
import { InvalidConfigError } from "../config/index.ts";
import { upstreamWebhookWarnings } from "./upstream-webhook-settings.ts";

describe("upstream webhook variables", () => {
  it("say nothing when unset or at upstream's defaults", () => {
    expect(upstreamWebhookWarnings({})).toEqual([]);
    expect(
      upstreamWebhookWarnings({ POD_VM_EXTENDED_RESOURCE: "kata.peerpods.io/vm", POD_VM_INSTANCE_TYPE: "t2.small" }),
    ).toEqual([]);
  });

  it("refuse an extended resource the daemon does not advertise, naming variable, value and why", () => {
    let caught: unknown;
    try {
      upstreamWebhookWarnings({ POD_VM_EXTENDED_RESOURCE: "example.com/vm" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidConfigError);
    const [error] = (caught as InvalidConfigError).errors;
    expect(error?.message).toContain('POD_VM_EXTENDED_RESOURCE="example.com/vm"');
    expect(error?.message).toContain("never be scheduled");
  });

  it("warn that POD_VM_INSTANCE_TYPE is not used, saying what chooses the type instead", () => {
    const [warning, ...rest] = upstreamWebhookWarnings({ POD_VM_INSTANCE_TYPE: "m5.large" });
    expect(rest).toEqual([]);
    expect(warning).toContain('POD_VM_INSTANCE_TYPE="m5.large" is not used');
    expect(warning).toContain("peerpods.io/instance-type");
    expect(warning).toContain("PODVM_INSTANCE_TYPE");
  });
});
