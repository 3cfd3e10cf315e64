#!/usr/bin/env node
// The built CLI (npm ci runs `prepare`, which compiles src/ to dist/).
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
