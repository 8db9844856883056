import { expect } from "vitest";
import { ProviderError } from "../../providers/provider.ts";

/** Awaits a provider call that must fail with a ProviderError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error("call unexpectedly succeeded");
}
