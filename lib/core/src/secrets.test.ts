import { describe, expect, it } from 'vitest';
import { secretsEqual } from './secrets.ts';

describe('secretsEqual', () => {
  it('secrets - equal secrets match, different ones do not, whatever their lengths', () => {
    expect(secretsEqual('admin-key-0123456', 'admin-key-0123456')).toBe(true);
    expect(secretsEqual('admin-key-0123456', 'admin-key-0123457')).toBe(false);
    // Different lengths neither throw (as timingSafeEqual on raw bytes would) nor match.
    expect(secretsEqual('short', 'admin-key-0123456')).toBe(false);
    expect(secretsEqual('', 'admin-key-0123456')).toBe(false);
  });
});
