// The peer-pods mutating admission webhook: strips CPU/memory from peer pods, sizes their VM
// through Kata annotations and makes them take one kata.peerpods.io/vm.

export { admit, type AdmissionDecision, type AdmissionOutcome, type AdmissionPolicy } from "./admission-policy.ts";
export {
  ADMISSION_API_VERSION,
  AdmissionReviewError,
  readAdmissionReview,
  type AdmissionRequest,
  type AdmissionReviewResponse,
} from "./admission-review.ts";
export type { JsonPatchOperation } from "./json-patch.ts";
export { INSTANCE_TYPE_KEY, PEERPOD_VM_RESOURCE } from "./peer-pod-names.ts";
export { peerPodPatch } from "./peer-pod-patch.ts";
export { PodShapeError, readPod, type PodView } from "./pod-view.ts";
export { parseQuantityNanos, QuantityError } from "./quantity.ts";
export { sizeVm, type VmSize } from "./vm-sizing.ts";
export { readTlsPair, TlsFilesError, watchTlsPair, type TlsPair } from "./tls-files.ts";
export {
  admissionPolicyOf,
  loadWebhookConfig,
  SYSTEM_NAMESPACES,
  webhookConfigSpec,
  type WebhookConfig,
} from "./webhook-config.ts";
export { MUTATE_PATH, startWebhookServer, type WebhookServer, type WebhookServerOptions } from "./webhook-server.ts";
