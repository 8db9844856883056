// The parts of VirtualMachineConfigSpec and VirtualMachineCloneSpec the provider sets, written
// in the schema's element order (servers reject out-of-order elements).
import { type MoRef, morefXml } from "./moref.ts";
import { el, optional, type Xml } from "./xml-write.ts";

export interface OptionValue {
  readonly key: string;
  readonly value: string;
}

export interface VmConfigSpec {
  readonly numCPUs?: number;
  readonly memoryMB?: number;
  /** Keys to set; an empty value removes a key on vSphere. */
  readonly extraConfig?: readonly OptionValue[];
}

export interface RelocateSpec {
  readonly datastore?: MoRef;
  readonly pool?: MoRef;
  readonly host?: MoRef;
}

export interface CloneSpec {
  readonly location: RelocateSpec;
  readonly template: boolean;
  readonly config?: VmConfigSpec;
  readonly powerOn: boolean;
}

export function configSpecXml(name: string, spec: VmConfigSpec): Xml {
  return el(name, [
    optional("numCPUs", spec.numCPUs),
    optional("memoryMB", spec.memoryMB),
    ...(spec.extraConfig ?? []).map((o) =>
      el("extraConfig", [el("key", o.key), el("value", o.value, { "xsi:type": "xsd:string" })], {
        "xsi:type": "OptionValue",
      }),
    ),
  ]);
}

export function cloneSpecXml(spec: CloneSpec, name = "spec"): Xml {
  const location = spec.location;
  return el(name, [
    el("location", [
      location.datastore === undefined ? undefined : morefXml("datastore", location.datastore),
      location.pool === undefined ? undefined : morefXml("pool", location.pool),
      location.host === undefined ? undefined : morefXml("host", location.host),
    ]),
    el("template", spec.template),
    spec.config === undefined ? undefined : configSpecXml("config", spec.config),
    el("powerOn", spec.powerOn),
  ]);
}
