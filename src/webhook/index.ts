// The peer-pods mutating admission webhook: strips CPU/memory from peer pods, sizes their VM
// through Kata annotations and makes them take one kata.peerpods.io/vm.

export { type AdmissionDecision, type AdmissionOutcome, type AdmissionPolicy, admit } from "./admission-policy.ts";
export {
  ADMISSION_API_VERSION,
  type AdmissionRequest,
  AdmissionReviewError,
  type AdmissionReviewResponse,
  readAdmissionReview,
} from "./admission-review.ts";
export type { JsonPatchOperation } from "./json-patch.ts";
export { INSTANCE_TYPE_KEY, PEERPOD_VM_RESOURCE } from "./peer-pod-names.ts";
export { peerPodPatch } from "./peer-pod-patch.ts";
export { PodShapeError, type PodView, readPod } from "./pod-view.ts";
export { parseQuantityNanos, QuantityError } from "./quantity.ts";
export { readTlsPair, TlsFilesError, type TlsPair, watchTlsPair } from "./tls-files.ts";
export { upstreamWebhookWarnings } from "./upstream-webhook-settings.ts";
export { sizeVm, type VmSize } from "./vm-sizing.ts";
export {
  admissionPolicyOf,
  loadWebhookConfig,
  SYSTEM_NAMESPACES,
  type WebhookConfig,
  webhookConfigSpec,
} from "./webhook-config.ts";
export { MUTATE_PATH, startWebhookServer, type WebhookServer, type WebhookServerOptions } from "./webhook-server.ts";
