/**
 * @module scopes
 * Nested teardown scopes for benches that start and stop servers part by part: each scope
 * owns a teardown list (env.ts) that runs when the scope ends, on success and on error, and
 * every scope still open is torn down, innermost first, on SIGINT/SIGTERM. Stopping a
 * part's servers when the part ends also lets the load figure of that part (machine.ts)
 * count their CPU as the bench's own: a child's CPU time is credited once it is reaped.
 */
import { createTeardown, type Teardown } from './env.ts';

/** Scopes open at once: the bench nests a few; more means a scope was never closed. */
const OPEN_SCOPES_MAX = 16;

export interface Scopes {
  /** Runs `body` with a fresh teardown list, and runs that list when `body` settles. */
  run<T>(name: string, body: (teardown: Teardown) => Promise<T>): Promise<T>;
  /** Tears down every open scope, innermost first (after a signal). */
  stopAll(): Promise<void>;
}

export function createScopes(): Scopes {
  const open: { name: string; teardown: Teardown }[] = [];
  return {
    async run(name, body) {
      if (open.length >= OPEN_SCOPES_MAX) {
        throw new Error(`scope ${name}: ${OPEN_SCOPES_MAX} scopes already open (${open.map((s) => s.name)})`);
      }
      const scope = { name, teardown: createTeardown() };
      open.push(scope);
      try {
        return await body(scope.teardown);
      } finally {
        await scope.teardown.run();
        open.splice(open.indexOf(scope), 1);
      }
    },
    async stopAll() {
      // Teardown.run is idempotent: a scope ending on its own at the same time is not torn down twice.
      for (const scope of [...open].reverse()) await scope.teardown.run();
    },
  };
}
