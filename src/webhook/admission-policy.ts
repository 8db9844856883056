// Which pods the webhook changes: pods being created with the peer-pods runtime class, outside
// the excluded namespaces. Everything else is allowed unchanged.

import { type AdmissionRequest, type AdmissionReviewResponse, allow, deny } from "./admission-review.ts";
import { peerPodPatch } from "./peer-pod-patch.ts";
import { PodShapeError, readPod } from "./pod-view.ts";
import { QuantityError } from "./quantity.ts";

export interface AdmissionPolicy {
  /** runtimeClassName of peer pods (TARGET_RUNTIME_CLASS). */
  readonly runtimeClass: string;
  /** Namespaces whose pods are never changed. */
  readonly excludedNamespaces: ReadonlySet<string>;
}

/** What happened to one request, for the log and metrics. */
export type AdmissionOutcome = "mutated" | "unchanged" | "skipped" | "denied";

export interface AdmissionDecision {
  readonly review: AdmissionReviewResponse;
  readonly outcome: AdmissionOutcome;
  readonly reason: string;
}

function isPodCreate(request: AdmissionRequest): boolean {
  const kind = request.kind;
  const isPod = kind === undefined || (kind.group === "" && kind.kind === "Pod");
  return isPod && (request.operation === undefined || request.operation === "CREATE");
}

function namespaceOf(request: AdmissionRequest): string | undefined {
  if (request.namespace !== undefined) return request.namespace;
  const object = request.object as { metadata?: { namespace?: unknown } } | null | undefined;
  const ns = object?.metadata?.namespace;
  return typeof ns === "string" && ns !== "" ? ns : undefined;
}

function runtimeClassOf(object: unknown): unknown {
  const spec = (object as { spec?: { runtimeClassName?: unknown } } | null | undefined)?.spec;
  return typeof spec === "object" && spec !== null ? spec.runtimeClassName : undefined;
}

export function admit(request: AdmissionRequest, policy: AdmissionPolicy): AdmissionDecision {
  const { uid } = request;
  if (!isPodCreate(request)) return { review: allow(uid), outcome: "skipped", reason: "not a pod creation" };
  const namespace = namespaceOf(request);
  if (namespace !== undefined && policy.excludedNamespaces.has(namespace)) {
    return { review: allow(uid), outcome: "skipped", reason: `namespace ${namespace} is excluded` };
  }
  if (runtimeClassOf(request.object) !== policy.runtimeClass) {
    return { review: allow(uid), outcome: "skipped", reason: `runtimeClassName is not ${policy.runtimeClass}` };
  }
  try {
    const patch = peerPodPatch(readPod(request.object));
    return patch.length === 0
      ? { review: allow(uid), outcome: "unchanged", reason: "already a peer pod" }
      : { review: allow(uid, patch), outcome: "mutated", reason: "peer pod" };
  } catch (err) {
    if (err instanceof PodShapeError || err instanceof QuantityError) {
      const message = `peer-pods webhook cannot prepare this ${policy.runtimeClass} pod: ${err.message}`;
      return { review: deny(uid, 400, message), outcome: "denied", reason: err.message };
    }
    throw err;
  }
}
