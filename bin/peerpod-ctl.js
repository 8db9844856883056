#!/usr/bin/env node
import "../src/cli/peerpod-ctl.ts";
