import { describe, expect, it } from 'vitest';
import { eventually } from './eventually.ts';

describe('eventually', () => {
  it('eventually - returns the first value an attempt gives, counting throws as not yet', async () => {
    let calls = 0;
    const value = await eventually(
      'the third call',
      async () => {
        calls++;
        if (calls === 1) throw new Error('refused');
        return calls === 3 ? 'ready' : undefined;
      },
      { stepMs: 1 },
    );
    expect([value, calls]).toEqual(['ready', 3]);
  });

  it('eventually - gives up after the timeout, naming what it waited for and why the last attempt failed', async () => {
    const cause = new Error('connection refused');
    const started = Date.now();
    const waited = eventually('a region that never answers', () => Promise.reject(cause), {
      timeoutMs: 50,
      stepMs: 5,
    });
    await expect(waited).rejects.toThrow('timed out after 50 ms: a region that never answers');
    await expect(waited).rejects.toHaveProperty('cause', cause);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it('eventually - tries once even with no time at all', async () => {
    expect(await eventually('at once', async () => 0, { timeoutMs: 0 })).toBe(0);
  });
});
