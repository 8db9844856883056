#!/usr/bin/env node
// Node's compile cache keeps the compiled modules: a relay restarted from a warm cache parses
// less, and from the TypeScript sources (a checkout) never loads the stripper (about 17 MiB).
import module from "node:module";

module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
await import("../src/cli/peerpod-relay.ts");
