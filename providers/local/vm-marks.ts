// A local VM carries its ownership marks in its processes' environment, as a cloud VM carries
// tags: whatever a crash interrupts (the folder half written, or removed by a rollback, the
// process group id never recorded), the VM can be found, and a process group id that the
// kernel has since given to another process is never mistaken for it.
import type { Ownership } from "../provider.ts";

export const VM_MARKS_ENV = "CAA_LOCAL_VM";

export interface VmMarks {
  /** The provider's VM folder, which plays the cloud account: daemons with other folders on
   * the same machine own other VMs. */
  readonly vmsDir: string;
  readonly name: string;
  readonly token: string;
  readonly address: string;
  readonly owner: Ownership;
}

export function marksEnvValue(marks: VmMarks): string {
  return JSON.stringify(marks);
}

/** The marks in a /proc/<pid>/environ text (NUL-separated), or undefined when it has none. */
export function marksFromEnviron(environ: string): VmMarks | undefined {
  const prefix = `${VM_MARKS_ENV}=`;
  const entry = environ.split("\0").find((e) => e.startsWith(prefix));
  if (entry === undefined) return undefined;
  try {
    const m = JSON.parse(entry.slice(prefix.length)) as Partial<VmMarks>;
    const o = m.owner;
    if (
      typeof m.vmsDir !== "string" ||
      typeof m.name !== "string" ||
      typeof m.token !== "string" ||
      typeof m.address !== "string"
    )
      return undefined;
    if (
      o === undefined ||
      typeof o.sandboxId !== "string" ||
      typeof o.node !== "string" ||
      typeof o.cluster !== "string"
    )
      return undefined;
    return {
      vmsDir: m.vmsDir,
      name: m.name,
      token: m.token,
      address: m.address,
      owner: { sandboxId: o.sandboxId, node: o.node, cluster: o.cluster },
    };
  } catch {
    return undefined;
  }
}
