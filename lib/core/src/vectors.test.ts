import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeVector, dot, encodeVector, normalize } from './vectors.ts';

const bytesOf = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Base64 of raw little-endian float32 bit patterns, for values a Float32Array cannot be given directly. */
function encodeBits(bits: number[]): string {
  const bytes = Buffer.alloc(bits.length * 4);
  for (const [i, b] of bits.entries()) bytes.writeUInt32LE(b, i * 4);
  return bytes.toString('base64');
}

describe('vectors', () => {
  it('vectors - the wire form is base64 of little-endian float32', () => {
    // 1.0f is 0x3f800000: bytes 00 00 80 3f.
    expect(encodeVector(new Float32Array([1]))).toBe('AACAPw==');
    expect(encodeVector(new Float32Array([1, -2]))).toBe(encodeBits([0x3f800000, 0xc0000000]));
    expect(encodeVector(new Float32Array(0))).toBe('');
    // A 384-dimension vector is 1536 bytes, 2048 base64 characters.
    expect(encodeVector(new Float32Array(384))).toHaveLength(2_048);
  });

  it('vectors - encode and decode round-trip bit-exactly, edge values included', () => {
    const edges = new Float32Array([
      0,
      -0,
      1,
      -1,
      0.1,
      1e-45, // the smallest subnormal
      1.1754943508222875e-38, // the smallest normal
      3.4028234663852886e38, // the largest finite float32
      -3.4028234663852886e38,
      Math.PI,
    ]);
    const decoded = decodeVector(encodeVector(edges), edges.length);
    expect(decoded).toBeDefined();
    expect(bytesOf(decoded!).equals(bytesOf(edges))).toBe(true);
    expect(Object.is(decoded![1], -0)).toBe(true);
  });

  it('vectors - random finite vectors round-trip bit-exactly (property)', () => {
    fc.assert(
      fc.property(fc.float32Array({ noDefaultInfinity: true, noNaN: true, maxLength: 512 }), (v) => {
        const decoded = decodeVector(encodeVector(v), v.length);
        expect(decoded).toBeDefined();
        expect(bytesOf(decoded!).equals(bytesOf(v))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('vectors - a view into a larger buffer encodes only its own elements', () => {
    const backing = new Float32Array([9, 1, 2, 9]);
    const view = new Float32Array(backing.buffer, 4, 2);
    expect(decodeVector(encodeVector(view), 2)).toEqual(new Float32Array([1, 2]));
  });

  it('vectors - the wrong number of bytes for the dimension decodes to undefined', () => {
    const encoded = encodeVector(new Float32Array([1, 2, 3, 4]));
    expect(decodeVector(encoded, 3)).toBeUndefined();
    expect(decodeVector(encoded, 5)).toBeUndefined();
    expect(decodeVector('', 1)).toBeUndefined();
    // Six bytes: not a whole number of floats.
    expect(decodeVector(Buffer.alloc(6).toString('base64'), 1)).toBeUndefined();
    expect(decodeVector(Buffer.alloc(6).toString('base64'), 2)).toBeUndefined();
  });

  it('vectors - NaN and infinities decode to undefined', () => {
    const one = 0x3f800000;
    for (const bad of [0x7fc00000, 0xffc00000, 0x7f800001, 0x7f800000, 0xff800000]) {
      expect(decodeVector(encodeBits([one, bad]), 2), bad.toString(16)).toBeUndefined();
      expect(decodeVector(encodeBits([bad, one]), 2), bad.toString(16)).toBeUndefined();
    }
    expect(decodeVector(encodeVector(new Float32Array([Number.NaN, 0])), 2)).toBeUndefined();
    expect(decodeVector(encodeVector(new Float32Array([0, Number.NEGATIVE_INFINITY])), 2)).toBeUndefined();
  });

  it('vectors - decodes base64 whose length is not a multiple of 4 (no padding) and base64url', () => {
    const v = new Float32Array([1.5, -2.25]);
    const encoded = encodeVector(v);
    expect(encoded).toMatch(/=$/);
    const unpadded = encoded.replace(/=+$/, '');
    expect(unpadded.length % 4).not.toBe(0);
    expect(decodeVector(unpadded, 2)).toEqual(v);
    const url = Buffer.from(encoded, 'base64').toString('base64url');
    expect(decodeVector(url, 2)).toEqual(v);
  });

  it('vectors - a decoded vector is its own aligned copy, not a view into pooled bytes', () => {
    // Small Buffers are carved from a shared pool at arbitrary offsets; Float32Array needs a
    // multiple of 4 and a view would pin (and alias) the pool, so decodeVector copies.
    const v = new Float32Array([0.25, -8, 1e10, 3e-8, 42]);
    const encoded = encodeVector(v);
    for (let shift = 0; shift < 8; shift++) {
      Buffer.from('x'.repeat(shift));
      const decoded = decodeVector(encoded, v.length)!;
      expect(decoded).toEqual(v);
      expect(decoded.byteOffset).toBe(0);
      expect(decoded.buffer.byteLength).toBe(v.length * 4);
    }
  });
});

describe('normalize', () => {
  it('normalize - scales to unit length in place, keeping the direction', () => {
    const v = new Float32Array([3, 4]);
    const n = normalize(v);
    expect(n).toBe(v);
    expect(n[0]).toBeCloseTo(0.6, 6);
    expect(n[1]).toBeCloseTo(0.8, 6);
  });

  it('normalize - any non-zero vector gets length 1 (property)', () => {
    fc.assert(
      fc.property(
        fc.float32Array({ minLength: 1, maxLength: 64, min: -1e6, max: 1e6, noNaN: true }),
        (values) => {
          const v = Float32Array.from(values);
          if (v.every((x) => Math.abs(x) < 1e-3)) return;
          normalize(v);
          expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('normalize - the zero vector stays zero rather than becoming NaN', () => {
    const zero = new Float32Array(8);
    expect(normalize(zero)).toEqual(new Float32Array(8));
    expect(normalize(new Float32Array(0))).toEqual(new Float32Array(0));
  });
});

describe('dot', () => {
  it('dot - sums the products, so unit vectors give their cosine', () => {
    expect(dot(new Float32Array([1, 2, 3]), new Float32Array([4, -5, 6]))).toBe(12);
    const a = normalize(new Float32Array([1, 1]));
    const b = new Float32Array([1, 0]);
    expect(dot(a, b)).toBeCloseTo(Math.SQRT1_2, 6);
    expect(dot(a, a)).toBeCloseTo(1, 6);
  });
});
