#!/usr/bin/env node
// Node's compile cache keeps the type-stripped sources: a relay restarted from a warm cache never
// loads the TypeScript stripper, which alone costs about 17 MiB of resident memory.
import module from "node:module";

module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
await import("../src/cli/peerpod-relay.ts");
