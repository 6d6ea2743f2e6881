import { describe, expect, it } from 'vitest';
import { createTeardown, TEARDOWN_STEPS_MAX } from './teardown.ts';

describe('teardown', () => {
  it('teardown - runs the steps last first, all of them despite a failure, once, and throws the first failure', async () => {
    const ran: string[] = [];
    const teardown = createTeardown();
    teardown.push(async () => ran.push('nats'));
    teardown.push(() => Promise.reject(new Error('agent stuck')));
    teardown.push(async () => ran.push('http'));
    await expect(teardown.run()).rejects.toThrow('agent stuck');
    expect(ran).toEqual(['http', 'nats']);
    await teardown.run();
    expect(ran).toEqual(['http', 'nats']);
  });

  it('teardown - refuses more steps than its maximum', () => {
    const teardown = createTeardown();
    for (let i = 0; i < TEARDOWN_STEPS_MAX; i++) teardown.push(async () => undefined);
    expect(() => teardown.push(async () => undefined)).toThrow(RangeError);
  });
});
