#!/usr/bin/env node
/**
 * The `memmesh` command: the only place the CLI reads process.env and argv.
 */
import { runCli } from '../src/main.ts';

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (text) => {
    if (text) process.stdout.write(`${text}\n`);
  },
  err: (text) => process.stderr.write(`${text}\n`),
});
