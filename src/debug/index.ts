// What the daemon shows about itself: liveness and readiness probes, Prometheus metrics and
// /debug/sandboxes (loopback only), and the provider wrapper that times every cloud call.
export { type DebugServerOptions, isLoopback, type Readiness, startDebugServer } from "./debug-server.ts";
export { InstrumentedProvider } from "./instrumented-provider.ts";
export { DaemonMetrics } from "./metrics.ts";
