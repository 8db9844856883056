// VXLAN network identifiers for pod tunnels: each sandbox with a tunnel holds one VNI from the
// configured range (VXLAN_TUNNEL_ID_BASE and on) for as long as its record holds it.
import { SandboxError } from "./sandbox-error.ts";

export class VniAllocator {
  private readonly base: number;
  private readonly count: number;
  /** VNIs handed out whose record may not be written yet. */
  private readonly reservations = new Map<string, number>();

  constructor(base: number, count: number) {
    this.base = base;
    this.count = count;
  }

  /** Picks the lowest VNI neither held by another sandbox's record (`held`) nor reserved for
   * another sandbox, and reserves it at once (before the record that keeps it is written), so
   * concurrent StartVMs never pick the same one. */
  allocate(id: string, held: Iterable<number>): number {
    const used = new Set<number>(held);
    for (const [other, vni] of this.reservations) if (other !== id) used.add(vni);
    for (let v = this.base; v < this.base + this.count; v++) {
      if (!used.has(v)) {
        this.reservations.set(id, v);
        return v;
      }
    }
    throw new SandboxError("exhausted", `no free VXLAN VNI left in ${this.base}..${this.base + this.count - 1}`);
  }

  /** Told the VNI a sandbox's record now holds: once the record holds the reserved VNI (or no
   * longer holds one) the reservation has done its job. */
  recorded(id: string, vni: number | undefined): void {
    if (vni === undefined || vni === this.reservations.get(id)) this.reservations.delete(id);
  }

  /** The sandbox is gone. */
  release(id: string): void {
    this.reservations.delete(id);
  }
}
