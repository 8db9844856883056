import { describe, expect, it } from "vitest";
import { ArmOperationError, armFailure, capacityCode, isNotFound, parseLroFailure } from "./arm-error.ts";

/** An error shaped as the SDK's RestError for an HTTP error answer. */
function restError(status: number, body: unknown): Error {
  const e = new Error((body as { error: { message: string } }).error.message) as Error & Record<string, unknown>;
  e.name = "RestError";
  e.statusCode = status;
  e.code = (body as { error: { code: string } }).error.code;
  e.details = body;
  return e;
}

describe("Azure failures", () => {
  it("parses the code out of a failed long-running operation's message", () => {
    // The form core-lro gives: "The long-running operation has failed. <code>. <message>".
    const msg =
      "The long-running operation has failed. AllocationFailed. Allocation failed. We do not have sufficient capacity for the requested VM size in this region.";
    expect(parseLroFailure(msg)).toEqual({
      code: "AllocationFailed",
      message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
    });
    expect(armFailure(new Error(msg))).toMatchObject({ code: "AllocationFailed", status: undefined });
    expect(parseLroFailure("The long-running operation has failed")).toBeUndefined();
    expect(parseLroFailure("socket hang up")).toBeUndefined();
  });

  it("reads code, status and nested detail codes of an error answer", () => {
    const f = armFailure(
      restError(409, {
        error: {
          code: "OperationNotAllowed",
          message:
            "Operation could not be completed as it results in exceeding approved standardDCASv5Family Cores quota.",
          details: [{ code: "QuotaExceeded", message: "Current Limit: 10" }],
        },
      }),
    );
    expect(f).toMatchObject({ code: "OperationNotAllowed", status: 409, detailCodes: ["QuotaExceeded"] });
    expect(capacityCode(f)).toBe("QuotaExceeded");
  });

  it("classifies capacity failures", () => {
    for (const code of [
      "AllocationFailed",
      "ZonalAllocationFailed",
      "OverconstrainedAllocationRequest",
      "SkuNotAvailable",
      "QuotaExceeded",
    ]) {
      expect(capacityCode({ code, detailCodes: [], message: "", status: 409 })).toBe(code);
    }
    expect(
      capacityCode({
        code: "OperationNotAllowed",
        detailCodes: [],
        message: "exceeding approved Total Regional Cores quota",
        status: 409,
      }),
    ).toBe("QuotaExceeded");
    expect(
      capacityCode({ code: "InvalidParameter", detailCodes: [], message: "bad size", status: 400 }),
    ).toBeUndefined();
    expect(capacityCode(armFailure(new ArmOperationError("SkuNotAvailable", "not here")))).toBe("SkuNotAvailable");
  });

  it("treats a missing resource as not found, but not a missing group or subscription", () => {
    expect(isNotFound(armFailure(restError(404, { error: { code: "ResourceNotFound", message: "gone" } })))).toBe(true);
    expect(isNotFound(armFailure(restError(404, { error: { code: "ResourceGroupNotFound", message: "no rg" } })))).toBe(
      false,
    );
    expect(isNotFound(armFailure(restError(404, { error: { code: "SubscriptionNotFound", message: "no sub" } })))).toBe(
      false,
    );
    expect(isNotFound(armFailure(restError(400, { error: { code: "InvalidParameter", message: "x" } })))).toBe(false);
  });
});
