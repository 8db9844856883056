// AdmissionReview admission.k8s.io/v1: reading the API server's request and writing the answer.
// A body that is no v1 AdmissionReview with a request uid cannot be answered in kind, so it is
// an AdmissionReviewError (the server replies HTTP 400); anything wrong inside the request is
// answered as a denied review, which the API server shows to the user.

import type { JsonPatchOperation } from "./json-patch.ts";

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";

export class AdmissionReviewError extends Error {
  override readonly name = "AdmissionReviewError";
}

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly operation: string | undefined;
  readonly object: unknown;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: "JSONPatch";
  /** base64 of the JSON patch. */
  readonly patch?: string;
  readonly status?: { readonly code: number; readonly message: string };
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: "AdmissionReview";
  readonly response: AdmissionResponse;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function readKind(value: unknown): GroupVersionKind | undefined {
  if (!isRecord(value)) return undefined;
  return {
    group: typeof value.group === "string" ? value.group : "",
    version: String(value.version ?? ""),
    kind: String(value.kind ?? ""),
  };
}

/** Reads a parsed JSON body as an AdmissionReview request. */
export function readAdmissionReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new AdmissionReviewError("the body must be a JSON object (an AdmissionReview)");
  if (body.kind !== "AdmissionReview")
    throw new AdmissionReviewError(`kind must be AdmissionReview, not ${JSON.stringify(body.kind ?? null)}`);
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw new AdmissionReviewError(
      `apiVersion must be ${ADMISSION_API_VERSION}, not ${JSON.stringify(body.apiVersion ?? null)} (list only v1 in admissionReviewVersions)`,
    );
  }
  const request = body.request;
  if (!isRecord(request)) throw new AdmissionReviewError("request is missing");
  const uid = text(request.uid);
  if (uid === undefined) throw new AdmissionReviewError("request.uid is missing");
  return {
    uid,
    kind: readKind(request.kind),
    namespace: text(request.namespace),
    name: text(request.name),
    operation: text(request.operation),
    object: request.object,
  };
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: "AdmissionReview", response };
}

/** Allowed; with a patch when there are operations. */
export function allow(uid: string, patch: readonly JsonPatchOperation[] = []): AdmissionReviewResponse {
  if (patch.length === 0) return review({ uid, allowed: true });
  return review({
    uid,
    allowed: true,
    patchType: "JSONPatch",
    patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
  });
}

/** Denied with the reason the user sees (`kubectl` prints the message). */
export function deny(uid: string, code: number, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code, message } });
}
