import { describe, expect, it } from "vitest";
import { InvalidConfigError } from "../config/index.ts";
import { loadWebhookConfig } from "./webhook-config.ts";

const runtimeClass = (env: Record<string, string>, argv: string[] = []) =>
  loadWebhookConfig({ env, argv }).runtimeClass;

describe("the webhook's runtime class name", () => {
  it("defaults to kata-remote and reads ours, upstream webhook's and peer-pods-cm's names", () => {
    expect(runtimeClass({})).toBe("kata-remote");
    expect(runtimeClass({ TARGET_RUNTIME_CLASS: "a" })).toBe("a");
    expect(runtimeClass({ TARGET_RUNTIMECLASS: "b" })).toBe("b");
    expect(runtimeClass({ RUNTIMECLASS_NAME: "c" })).toBe("c");
    expect(runtimeClass({ RUNTIMECLASS_NAME: " " })).toBe("kata-remote");
  });

  it("accepts the names together when they agree, and the flag wins over all of them", () => {
    expect(runtimeClass({ TARGET_RUNTIMECLASS: "peer", RUNTIMECLASS_NAME: "peer" })).toBe("peer");
    expect(runtimeClass({ RUNTIMECLASS_NAME: "peer" }, ["-target-runtime-class", "other"])).toBe("other");
  });

  it("refuses names that disagree, naming every one, rather than leave one class's pods unmutated", () => {
    const load = () => runtimeClass({ TARGET_RUNTIME_CLASS: "kata-remote", RUNTIMECLASS_NAME: "kata-peer" });
    expect(load).toThrow(InvalidConfigError);
    expect(load).toThrow(
      /RUNTIMECLASS_NAME="kata-peer": expected the same RuntimeClass .*TARGET_RUNTIME_CLASS="kata-remote", RUNTIMECLASS_NAME="kata-peer"/,
    );
  });

  it("refuses a name no RuntimeClass can have", () => {
    expect(() => runtimeClass({ TARGET_RUNTIMECLASS: "Kata_Remote" })).toThrow(
      /TARGET_RUNTIMECLASS="Kata_Remote": expected a RuntimeClass name/,
    );
  });
});
