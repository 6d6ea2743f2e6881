#!/usr/bin/env node
/**
 * The `memmesh` command: the only place the CLI reads process.env and argv, and listens for
 * Ctrl-C. The first Ctrl-C lets the command stop cleanly (an import finishes the batch in
 * flight and saves where it is); a second one exits at once.
 */
import { EXIT } from '../src/config.ts';
import { runCli } from '../src/main.ts';

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (text) => {
    if (!text) return;
    if (!process.stdout.write(`${text}\n`))
      return new Promise((resolve) => process.stdout.once('drain', resolve));
  },
  err: (text) => process.stderr.write(`${text}\n`),
  progressStream: process.stderr,
  onInterrupt(listener) {
    let pressed = 0;
    const onSigint = () => {
      if (++pressed > 1) process.exit(EXIT.interrupted);
      listener();
    };
    process.on('SIGINT', onSigint);
    return () => process.off('SIGINT', onSigint);
  },
});
