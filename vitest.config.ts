import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "providers/**/*.test.ts", "podvm/**/*.test.ts", "test/**/*.test.ts"],
    // Tests spawn real daemons, Go peers and network namespaces: processes isolate them best.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
