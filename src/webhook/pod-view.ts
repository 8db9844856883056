// The few fields of a Pod the webhook reads, checked as they are read: an admission request is
// untrusted input, so anything of the wrong shape becomes a PodShapeError naming the field.

export class PodShapeError extends Error {
  override readonly name = "PodShapeError";
}

export type StringMap = Readonly<Record<string, string>>;

export interface ContainerView {
  /** "containers" or "initContainers". */
  readonly list: "containers" | "initContainers";
  readonly index: number;
  readonly name: string;
  /** Init containers with restartPolicy Always are sidecars: they keep running beside the app. */
  readonly sidecar: boolean;
  /** The container's `resources` as sent, or undefined when absent. */
  readonly resources: Readonly<Record<string, unknown>> | undefined;
  readonly requests: StringMap;
  readonly limits: StringMap;
}

export interface PodView {
  readonly hasMetadata: boolean;
  readonly annotations: StringMap | undefined;
  readonly labels: StringMap | undefined;
  readonly runtimeClassName: string | undefined;
  readonly containers: readonly ContainerView[];
  readonly initContainers: readonly ContainerView[];
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalRecord(value: unknown, where: string): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new PodShapeError(`${where} must be an object`);
  return value;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new PodShapeError(`${where} must be a string`);
  return value;
}

function stringMap(value: unknown, where: string): StringMap | undefined {
  const record = optionalRecord(value, where);
  if (record === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(record)) {
    // The API server sends quantities as strings; a bare number is accepted as its text.
    if (typeof item === "string") out[key] = item;
    else if (typeof item === "number" && Number.isFinite(item)) out[key] = String(item);
    else throw new PodShapeError(`${where}[${JSON.stringify(key)}] must be a string`);
  }
  return out;
}

function readContainers(value: unknown, list: ContainerView["list"], required: boolean): ContainerView[] {
  const where = `spec.${list}`;
  if (value === undefined || value === null) {
    if (required) throw new PodShapeError(`${where} is missing`);
    return [];
  }
  if (!Array.isArray(value)) throw new PodShapeError(`${where} must be a list`);
  return value.map((item: unknown, index) => {
    const at = `${where}[${index}]`;
    if (!isRecord(item)) throw new PodShapeError(`${at} must be an object`);
    const resources = optionalRecord(item.resources, `${at}.resources`);
    return {
      list,
      index,
      name: optionalString(item.name, `${at}.name`) ?? `#${index}`,
      sidecar: list === "initContainers" && item.restartPolicy === "Always",
      resources,
      requests: stringMap(resources?.requests, `${at}.resources.requests`) ?? {},
      limits: stringMap(resources?.limits, `${at}.resources.limits`) ?? {},
    };
  });
}

/** Reads a Pod object from an admission request. */
export function readPod(object: unknown): PodView {
  if (!isRecord(object)) throw new PodShapeError("the object must be a Pod (a JSON object)");
  const metadata = optionalRecord(object.metadata, "metadata");
  const spec = optionalRecord(object.spec, "spec");
  if (spec === undefined) throw new PodShapeError("spec is missing");
  const containers = readContainers(spec.containers, "containers", true);
  if (containers.length === 0) throw new PodShapeError("spec.containers is empty");
  return {
    hasMetadata: metadata !== undefined,
    annotations: stringMap(metadata?.annotations, "metadata.annotations"),
    labels: stringMap(metadata?.labels, "metadata.labels"),
    runtimeClassName: optionalString(spec.runtimeClassName, "spec.runtimeClassName"),
    containers,
    initContainers: readContainers(spec.initContainers, "initContainers", false),
  };
}
