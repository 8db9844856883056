// Procedure numbers of libvirt's remote program (REMOTE_PROGRAM 0x20008086, version 1) that
// this client calls. They are part of libvirt's stable wire protocol.
export const Procedure = {
  connectOpen: 1,
  connectClose: 2,
  connectGetType: 3,
  connectGetCapabilities: 7,
  domainDestroy: 12,
  domainGetXmlDesc: 14,
  domainLookupByName: 23,
  domainLookupByUuid: 24,
  networkCreate: 39,
  networkGetXmlDesc: 43,
  networkLookupByName: 46,
  connectGetHostname: 59,
  authList: 66,
  storagePoolRefresh: 83,
  storagePoolLookupByName: 84,
  storagePoolGetXmlDesc: 88,
  storageVolCreateXml: 93,
  storageVolDelete: 94,
  storageVolLookupByName: 95,
  storageVolGetXmlDesc: 99,
  storageVolGetPath: 100,
  domainIsActive: 150,
  networkIsActive: 152,
  storagePoolIsActive: 154,
  connectGetLibVersion: 157,
  domainCreateWithFlags: 196,
  storageVolUpload: 208,
  domainGetState: 212,
  domainUndefineFlags: 231,
  domainDestroyFlags: 234,
  domainShutdownFlags: 258,
  domainGetMetadata: 265,
  connectListAllDomains: 273,
  storagePoolListAllVolumes: 282,
  networkGetDhcpLeases: 341,
  connectGetDomainCapabilities: 342,
  domainDefineXmlFlags: 350,
} as const;

export type ProcedureName = keyof typeof Procedure;

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(Procedure).map(([k, v]) => [v, k]));

export function procedureName(n: number): string {
  return NAMES.get(n) ?? `procedure ${n}`;
}
