// Checks a sandbox record read from disk before anything acts on it. A record edited by hand,
// cut short or written by another version must not reach the state machine: a missing field
// broke /debug for every sandbox, and an unknown state made a live VM look like an orphan.
import { SANDBOX_ID_PATTERN, type SandboxRecord } from "./sandbox-record.ts";

const STATES: ReadonlySet<string> = new Set(["created", "starting", "running", "failed", "stopping"]);
const TUNNEL_STATES: ReadonlySet<string> = new Set(["pending", "up", "down"]);

/** Returns the record when every field is what the daemon writes; throws naming the first that is not. */
export function validateSandboxRecord(value: unknown, id: string): SandboxRecord {
  const r = object(value, "the record");
  need(r.version === 1, "version", "1");
  need(r.id === id && SANDBOX_ID_PATTERN.test(id), "id", `the file's name (${JSON.stringify(id)})`);
  need(typeof r.state === "string" && STATES.has(r.state), "state", `one of ${[...STATES].join(", ")}`);
  for (const f of ["createdAt", "updatedAt"])
    need(typeof r[f] === "string" && !Number.isNaN(Date.parse(r[f] as string)), f, "a timestamp");
  const annotations = object(r.annotations, "annotations");
  need(
    Object.values(annotations).every((v) => typeof v === "string"),
    "annotations",
    "an object of strings",
  );
  for (const f of ["networkNamespacePath", "agentSocketPath"]) need(typeof r[f] === "string", f, "a string");
  if (r.vm !== undefined) {
    const vm = object(r.vm, "vm");
    for (const f of ["name", "token"]) need(typeof vm[f] === "string" && vm[f] !== "", `vm.${f}`, "a non-empty string");
    for (const f of ["id", "address", "instanceType"])
      need(vm[f] === undefined || typeof vm[f] === "string", `vm.${f}`, "a string");
    need(vm.pool === undefined || typeof vm.pool === "boolean", "vm.pool", "true or false");
  }
  if (r.tunnel !== undefined) {
    const t = object(r.tunnel, "tunnel");
    need(
      Number.isInteger(t.vni) && (t.vni as number) > 0 && (t.vni as number) < 1 << 24,
      "tunnel.vni",
      "a VNI from 1 to 16777215",
    );
    need(typeof t.state === "string" && TUNNEL_STATES.has(t.state), "tunnel.state", "pending, up or down");
    if (t.network !== undefined) object(t.network, "tunnel.network");
  }
  need(
    r.attempt === undefined || (Number.isInteger(r.attempt) && (r.attempt as number) >= 0),
    "attempt",
    "a whole number",
  );
  need(r.error === undefined || typeof r.error === "string", "error", "a string");
  return r as unknown as SandboxRecord;
}

function object(value: unknown, what: string): Record<string, unknown> {
  need(typeof value === "object" && value !== null && !Array.isArray(value), what, "an object");
  return value as Record<string, unknown>;
}

function need(ok: boolean, field: string, expected: string): void {
  if (!ok) throw new Error(`${field} is missing or invalid: expected ${expected}`);
}
