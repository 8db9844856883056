#!/usr/bin/env node
import "../src/cli/peerpods-webhook.ts";
