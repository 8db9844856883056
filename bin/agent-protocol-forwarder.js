#!/usr/bin/env node
import "../src/cli/agent-protocol-forwarder.ts";
