import { describe, expect, it } from "vitest";
import { ArgumentError, ConfigError, HelpRequestedError, InvalidConfigError } from "./errors.ts";
import { boolField, durationField, intField, listField, mapField, portField, stringField } from "./field-kinds.ts";
import { loadConfig } from "./load.ts";

const spec = {
  socket: stringField({ env: "SOCKET_PATH", flag: "socket", default: "/run/x.sock", description: "socket" }),
  timeoutMs: durationField({ env: "PROXY_TIMEOUT", flag: "proxy-timeout", default: "5m", description: "timeout" }),
  port: portField({ env: "FORWARDER_PORT", flag: ["forwarder-port", "fp"], default: "15150", description: "port" }),
  limit: intField({ env: "LIMIT", flag: "limit", default: "10", min: 1, description: "limit" }),
  disableTls: boolField({ env: "DISABLE_TLS", flag: "disable-tls", default: "false", description: "tls" }),
  groups: listField({ env: "AWS_SG_IDS", flag: "securitygroupids", description: "groups" }),
  tags: mapField({ env: "TAGS", flag: "tags", description: "tags" }),
  region: stringField({ env: "AWS_REGION", flag: "aws-region", required: true, description: "region" }),
  secretKey: stringField({ env: "AWS_SECRET_ACCESS_KEY", flag: "aws-secret-key", secret: true, description: "key" }),
  secretTimeout: durationField({ env: "SECRET_TIMEOUT", secret: true, description: "secret timeout" }),
};

const baseEnv = { AWS_REGION: "eu-west-1" };

function loadFailure(env: Record<string, string>, argv: string[] = []): InvalidConfigError {
  try {
    loadConfig(spec, { env, argv });
  } catch (error) {
    if (error instanceof InvalidConfigError) return error;
    throw error;
  }
  throw new Error("loadConfig unexpectedly succeeded");
}

describe("loadConfig", () => {
  it("applies defaults and leaves optional settings undefined", () => {
    const config = loadConfig(spec, { env: baseEnv, argv: [] });
    expect(config).toEqual({
      socket: "/run/x.sock",
      timeoutMs: 300_000,
      port: 15150,
      limit: 10,
      disableTls: false,
      groups: undefined,
      tags: undefined,
      region: "eu-west-1",
      secretKey: undefined,
      secretTimeout: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reads every kind from the environment", () => {
    const config = loadConfig(spec, {
      env: {
        ...baseEnv,
        SOCKET_PATH: "/tmp/h.sock",
        PROXY_TIMEOUT: "90s",
        FORWARDER_PORT: "15151",
        LIMIT: "3",
        DISABLE_TLS: "yes",
        AWS_SG_IDS: "sg-1,sg-2",
        TAGS: "k1=v1,k2=v2",
        AWS_SECRET_ACCESS_KEY: "s3cr3t",
      },
      argv: [],
    });
    expect(config.socket).toBe("/tmp/h.sock");
    expect(config.timeoutMs).toBe(90_000);
    expect(config.port).toBe(15151);
    expect(config.limit).toBe(3);
    expect(config.disableTls).toBe(true);
    expect(config.groups).toEqual(["sg-1", "sg-2"]);
    expect(config.tags).toEqual(
      new Map([
        ["k1", "v1"],
        ["k2", "v2"],
      ]),
    );
    expect(config.secretKey).toBe("s3cr3t");
  });

  it("treats empty and blank variables as unset and trims values", () => {
    const config = loadConfig(spec, {
      env: { ...baseEnv, PROXY_TIMEOUT: "", LIMIT: "  ", FORWARDER_PORT: " 2000\n" },
      argv: [],
    });
    expect(config.timeoutMs).toBe(300_000);
    expect(config.limit).toBe(10);
    expect(config.port).toBe(2000);
  });

  it("lets flags override the environment, in every Go form", () => {
    const env = { ...baseEnv, SOCKET_PATH: "/env.sock", PROXY_TIMEOUT: "1m", FORWARDER_PORT: "1", LIMIT: "2" };
    const config = loadConfig(spec, {
      env,
      argv: ["-socket", "/flag.sock", "--proxy-timeout", "2m", "-fp=3", "--limit=4"],
    });
    expect(config.socket).toBe("/flag.sock");
    expect(config.timeoutMs).toBe(120_000);
    expect(config.port).toBe(3);
    expect(config.limit).toBe(4);
  });

  it("does not parse an environment value that a flag overrides", () => {
    const config = loadConfig(spec, { env: { ...baseEnv, PROXY_TIMEOUT: "garbage" }, argv: ["-proxy-timeout=1s"] });
    expect(config.timeoutMs).toBe(1_000);
  });

  it("uses the last occurrence of a repeated flag", () => {
    const config = loadConfig(spec, { env: baseEnv, argv: ["-limit", "5", "-limit", "6"] });
    expect(config.limit).toBe(6);
  });

  it("takes a bool flag alone as true and reads a value only after =", () => {
    expect(loadConfig(spec, { env: baseEnv, argv: ["-disable-tls"] }).disableTls).toBe(true);
    expect(
      loadConfig(spec, { env: { ...baseEnv, DISABLE_TLS: "true" }, argv: ["--disable-tls=false"] }).disableTls,
    ).toBe(false);
    // As in Go, the word after a bool flag is not its value but a stray argument.
    const failure = loadFailure(baseEnv, ["-disable-tls", "false"]);
    expect(failure.errors).toHaveLength(1);
    expect(failure.errors[0]).toBeInstanceOf(ArgumentError);
    expect(failure.message).toContain('unexpected argument "false"');
  });

  it("passes a value that starts with a dash to a flag that needs one", () => {
    expect(loadConfig(spec, { env: baseEnv, argv: ["-socket", "-odd-name"] }).socket).toBe("-odd-name");
  });

  it("names an unknown flag", () => {
    const failure = loadFailure(baseEnv, ["--no-such-flag=1", "-socket", "/s"]);
    expect(failure.errors).toHaveLength(1);
    const [problem] = failure.errors;
    expect(problem).toBeInstanceOf(ArgumentError);
    expect((problem as ArgumentError).argument).toBe("--no-such-flag=1");
    expect(failure.message).toContain("unknown flag --no-such-flag");
  });

  it("reports a flag missing its value and stray arguments", () => {
    expect(loadFailure(baseEnv, ["-socket"]).message).toContain("flag -socket needs a value");
    expect(loadFailure(baseEnv, ["aws", "-socket", "/s"]).message).toContain('unexpected argument "aws"');
    expect(loadFailure(baseEnv, ["--", "x"]).message).toContain('unexpected argument "x"');
    expect(loadFailure(baseEnv, ["---socket=/s"]).message).toContain("bad flag syntax: ---socket=/s");
  });

  it("asks for help on -h, -help and --help", () => {
    for (const flag of ["-h", "-help", "--help", "--h"]) {
      expect(() => loadConfig(spec, { env: {}, argv: [flag] })).toThrow(HelpRequestedError);
    }
  });

  it("lists every invalid variable, one line each", () => {
    const failure = loadFailure({
      PROXY_TIMEOUT: "abc",
      FORWARDER_PORT: "70000",
      LIMIT: "0",
      DISABLE_TLS: "maybe",
      TAGS: "novalue",
    });
    expect(failure).toBeInstanceOf(AggregateError);
    expect(failure.errors.map((error) => (error as ConfigError).variable)).toEqual([
      "PROXY_TIMEOUT",
      "FORWARDER_PORT",
      "LIMIT",
      "DISABLE_TLS",
      "TAGS",
      "AWS_REGION",
    ]);
    const lines = failure.message.split("\n");
    expect(lines[0]).toBe("invalid configuration (6 problems):");
    expect(lines.slice(1)).toEqual([
      '  PROXY_TIMEOUT="abc": expected a Go duration such as 5m or 300s, at most 24h0m0s',
      '  FORWARDER_PORT="70000": expected a port number from 1 to 65535',
      '  LIMIT="0": expected an integer of at least 1',
      '  DISABLE_TLS="maybe": expected true or false (also 1/0, yes/no)',
      '  TAGS="novalue": expected comma-separated key=value pairs such as k1=v1,k2=v2 ("novalue" has no "=")',
      "  AWS_REGION: required but not set (set AWS_REGION or pass -aws-region: a non-empty string)",
    ]);
  });

  it("reports flags and argument problems together with variable problems", () => {
    const failure = loadFailure({ ...baseEnv, LIMIT: "x" }, ["-bogus", "-proxy-timeout", "300"]);
    expect(failure.errors).toHaveLength(3);
    expect(failure.message).toContain("unknown flag -bogus");
    expect(failure.message).toContain(
      '-proxy-timeout="300" (PROXY_TIMEOUT): expected a Go duration such as 5m or 300s, at most 24h0m0s (a number needs a unit',
    );
    expect(failure.message).toContain('LIMIT="x": expected an integer of at least 1');
    const flagError = failure.errors.find(
      (error) => error instanceof ConfigError && error.variable === "PROXY_TIMEOUT",
    ) as ConfigError;
    expect(flagError.source).toBe("flag");
    expect(flagError.flag).toBe("-proxy-timeout");
    expect(flagError.value).toBe("300");
  });

  it("never shows a secret's value, in the message or on the error", () => {
    const failure = loadFailure({ ...baseEnv, SECRET_TIMEOUT: "hunter2" }, ["-aws-secret-key"]);
    const secretError = failure.errors.find((error) => error instanceof ConfigError) as ConfigError;
    expect(secretError.variable).toBe("SECRET_TIMEOUT");
    expect(secretError.value).toBeUndefined();
    expect(secretError.message).toBe(
      "SECRET_TIMEOUT=<redacted>: expected a Go duration such as 5m or 300s, at most 24h0m0s",
    );
    expect(failure.message).not.toContain("hunter2");
    expect(JSON.stringify(secretError)).not.toContain("hunter2");
    expect(JSON.stringify(failure.errors)).not.toContain("hunter2");
  });

  it("evaluates a computed default at load time", () => {
    let calls = 0;
    const computed = {
      name: stringField({
        env: "NODE_NAME",
        default: () => {
          calls += 1;
          return `node-${calls}`;
        },
        description: "node",
      }),
    };
    expect(loadConfig(computed, { env: {}, argv: [] }).name).toBe("node-1");
    expect(loadConfig(computed, { env: { NODE_NAME: "worker-0" }, argv: [] }).name).toBe("worker-0");
    expect(calls).toBe(1);
  });

  it("reports a broken default as the default's fault", () => {
    const broken = { t: durationField({ env: "T", default: "5", description: "t" }) };
    expect(() => loadConfig(broken, { env: {}, argv: [] })).toThrow('T default "5": expected a Go duration');
  });

  it("rejects specs that reuse a variable or flag, or claim -help", () => {
    const twiceEnv = { a: stringField({ env: "A", description: "a" }), b: stringField({ env: "A", description: "b" }) };
    const twiceFlag = {
      a: stringField({ env: "A", flag: "x", description: "a" }),
      b: stringField({ env: "B", flag: "x", description: "b" }),
    };
    const help = { a: boolField({ env: "A", flag: "help", description: "a" }) };
    const badEnv = { a: stringField({ env: "A-B", description: "a" }) };
    const requiredWithDefault = { a: stringField({ env: "A", required: true, default: "x", description: "a" }) };
    for (const bad of [twiceEnv, twiceFlag, help, badEnv, requiredWithDefault]) {
      expect(() => loadConfig(bad, { env: {}, argv: [] })).toThrow(TypeError);
    }
  });
});

// Type-level checks: `npx tsc --noEmit` fails if the derived types drift.
// biome-ignore lint/suspicious/noExportsInTest: exported so tsc checks the derived types without a call
export function typeChecks(): void {
  const config = loadConfig(spec, { env: baseEnv, argv: [] });
  const timeout: number = config.timeoutMs;
  const region: string = config.region;
  const groups: readonly string[] | undefined = config.groups;
  // @ts-expect-error an optional setting may be undefined
  const key: string = config.secretKey;
  // @ts-expect-error the loaded configuration is read-only
  config.limit = 3;
  void [timeout, region, groups, key];
}
