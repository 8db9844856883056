// Errors the fake EC2 endpoint answers with: EC2's codes, messages and HTTP statuses.
import { randomBytes } from "node:crypto";
import type { Fault } from "./fake-ec2-model.ts";

/** An EC2 error: code, message and the HTTP status EC2 uses for it. */
export class Ec2Failure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const badRequest = (code: string, message: string) => new Ec2Failure(400, code, message);

/** The error an injected fault stands for, worded as EC2 words it. */
export function faultFailure(
  fault: Exclude<Fault, { kind: "drop-after-success" }>,
  action: string,
  accountId: string,
): Ec2Failure {
  switch (fault.kind) {
    case "throttle":
      return new Ec2Failure(503, "RequestLimitExceeded", "Request limit exceeded.");
    case "internal":
      return fault.status === 500
        ? new Ec2Failure(500, "InternalError", "An internal error has occurred")
        : new Ec2Failure(503, "Unavailable", "The server is overloaded and can't handle the request.");
    case "quota":
      return fault.code === "VcpuLimitExceeded"
        ? new Ec2Failure(
            400,
            "VcpuLimitExceeded",
            "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
          )
        : new Ec2Failure(
            400,
            "InstanceLimitExceeded",
            "Your quota allows for 0 more running instance(s). You requested at least 1.",
          );
    case "unauthorized":
      return new Ec2Failure(
        403,
        "UnauthorizedOperation",
        `You are not authorized to perform this operation. User: arn:aws:sts::${accountId}:assumed-role/peer-pods/i-0node is not authorized to perform: ec2:${action} because no identity-based policy allows the ec2:${action} action. Encoded authorization failure message: ${randomBytes(24).toString("base64url")}`,
      );
  }
}
