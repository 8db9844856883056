// EC2 ClientTokens: RunInstances with a token it has seen returns the instance made the first
// time (for hours, even once terminated) instead of launching another. The daemon's VM token is
// recorded before the call, so a retry after a crash or a lost answer finds the same instance.
import { sha256Hex as sha256 } from "../../src/util/sha256-hex.ts";

// EC2 takes up to 64 ASCII characters.
const VALID = /^[\x21-\x7e]{1,64}$/;

/**
 * The ClientToken for launching `instanceType` under the daemon's VM `token`. The first choice
 * uses the token itself; each fallback type gets its own token derived from both, because EC2
 * refuses a token reused with other parameters (IdempotentParameterMismatch).
 */
export function clientTokenFor(token: string, instanceType: string, primary: boolean): string {
  const base = VALID.test(token) ? token : sha256(token);
  return primary ? base : sha256(`${base}/${instanceType}`);
}
