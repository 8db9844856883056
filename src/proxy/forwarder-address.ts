/** Where a peer VM's forwarder listens. */
export interface ForwarderAddress {
  readonly host: string;
  readonly port: number;
}

/** "10.0.0.7:15150", or "[fd00::7]:15150" for IPv6: how messages name a forwarder. */
export function formatAddress(address: ForwarderAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
