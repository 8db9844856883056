#!/usr/bin/env node
import "../src/cli/cloud-api-adaptor.ts";
