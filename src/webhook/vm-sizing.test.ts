import { describe, expect, it } from "vitest";
import { readPod } from "./pod-view.ts";
import { QuantityError } from "./quantity.ts";
import { sizeVm } from "./vm-sizing.ts";

type Res = { requests?: Record<string, string>; limits?: Record<string, string> };
const c = (name: string, resources?: Res, extra: Record<string, unknown> = {}) => ({
  name,
  image: "busybox",
  ...(resources ? { resources } : {}),
  ...extra,
});
const pod = (containers: unknown[], initContainers?: unknown[]) =>
  readPod({ metadata: { name: "p" }, spec: { containers, ...(initContainers ? { initContainers } : {}) } });

describe("sizeVm", () => {
  it("gives nothing when no container asks", () => {
    expect(sizeVm(pod([c("a"), c("b", {})]))).toEqual({ vcpus: undefined, memoryMiB: undefined });
  });

  it("sums the app containers, each at the larger of request and limit", () => {
    const size = sizeVm(
      pod([
        c("a", { requests: { cpu: "250m", memory: "100Mi" }, limits: { cpu: "1", memory: "200Mi" } }),
        c("b", { requests: { cpu: "1500m", memory: "300Mi" } }),
        c("c", { limits: { memory: "1Gi" } }),
      ]),
    );
    // cpu 1 + 1.5 = 2.5 → 3; memory 200 + 300 + 1024 MiB
    expect(size).toEqual({ vcpus: 3, memoryMiB: 1524 });
  });

  it("takes a plain init container when it needs more than the app", () => {
    const size = sizeVm(
      pod(
        [c("app", { requests: { cpu: "1", memory: "64Mi" } })],
        [c("migrate", { limits: { cpu: "4", memory: "32Mi" } })],
      ),
    );
    expect(size).toEqual({ vcpus: 4, memoryMiB: 64 });
  });

  it("adds sidecars to the app and to the init containers after them", () => {
    const size = sizeVm(
      pod(
        [c("app", { requests: { cpu: "1", memory: "100Mi" } })],
        [
          c("early", { requests: { cpu: "1", memory: "700Mi" } }),
          c("proxy", { requests: { cpu: "500m", memory: "50Mi" } }, { restartPolicy: "Always" }),
          c("late", { requests: { cpu: "2", memory: "10Mi" } }),
        ],
      ),
    );
    // cpu: app 1 + 0.5 = 1.5; late 2 + 0.5 = 2.5 → 3. memory: early 700 (before the sidecar) wins.
    expect(size).toEqual({ vcpus: 3, memoryMiB: 700 });
  });

  it("rounds memory up to whole MiB", () => {
    expect(sizeVm(pod([c("a", { requests: { memory: "1G" } })])).memoryMiB).toBe(954);
    expect(sizeVm(pod([c("a", { requests: { memory: "1" } })])).memoryMiB).toBe(1);
  });

  it("names the container and field of a quantity it cannot read", () => {
    expect(() => sizeVm(pod([c("a"), c("web", { limits: { memory: "lots" } })]))).toThrow(
      new QuantityError(
        'containers[1] (web) resources.limits.memory: "lots" is not a Kubernetes quantity (such as 500m, 2, 128Mi or 1G)',
      ),
    );
  });
});
