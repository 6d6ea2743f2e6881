/**
 * @module teardown
 * Undoing a fixture that is built step by step: each started thing pushes how to stop it,
 * and the steps run in reverse order (agents before the NATS servers they use, servers
 * before the directories they write to), also when the fixture failed half-way through.
 */

/** A fixture is a handful of servers and agents; more steps than this is a leak in a loop. */
export const TEARDOWN_STEPS_MAX = 256;

export interface Teardown {
  /** Adds a step; it runs before every step pushed earlier. */
  push(step: () => Promise<unknown>): void;
  /**
   * Runs every step, last pushed first, once: a second call does nothing. A failing step does
   * not stop the others (a stuck agent must not leave its NATS servers running); the first
   * failure is thrown once all have run.
   */
  run(): Promise<void>;
}

export function createTeardown(): Teardown {
  const steps: (() => Promise<unknown>)[] = [];
  return {
    push(step) {
      if (steps.length >= TEARDOWN_STEPS_MAX) {
        throw new RangeError(`a teardown holds at most ${TEARDOWN_STEPS_MAX} steps`);
      }
      steps.push(step);
    },
    async run() {
      const errors: unknown[] = [];
      for (let step = steps.pop(); step; step = steps.pop()) {
        await step().catch((err: unknown) => errors.push(err));
      }
      if (errors.length > 0) throw errors[0];
    },
  };
}
