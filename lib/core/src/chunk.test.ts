import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChunkOptions, chunkText, DEFAULT_CHUNK_OPTIONS, type TextSpan } from './chunk.ts';

/** chunk.ts looks for whitespace in the last fifth of a full-size chunk. */
const REACH_FRACTION = 0.2;

const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);

/** True when offset `at` cuts one astral character in two. */
function splitsCharacter(text: string, at: number): boolean {
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

/** The invariants every chunking must keep, whatever the text and options. */
function checkSpans(text: string, options: ChunkOptions, spans: TextSpan[]): void {
  const { chunkChars, overlapChars, chunksMax } = options;
  if (text.length === 0) {
    expect(spans).toEqual([]);
    return;
  }
  expect(spans.length).toBeGreaterThanOrEqual(1);
  expect(spans.length).toBeLessThanOrEqual(chunksMax);
  expect(spans[0]!.start).toBe(0);
  expect(spans.at(-1)!.end).toBe(text.length);
  const capped = spans.length === chunksMax;
  for (const [i, span] of spans.entries()) {
    const last = i === spans.length - 1;
    expect(Number.isInteger(span.start) && Number.isInteger(span.end)).toBe(true);
    expect(span.end).toBeGreaterThan(span.start);
    // Only the last chunk may be longer, and only when it took the remainder at chunksMax.
    if (!(last && capped)) expect(span.end - span.start).toBeLessThanOrEqual(chunkChars);
    if (chunkChars >= 2) {
      expect(splitsCharacter(text, span.start), `start ${span.start}`).toBe(false);
      expect(splitsCharacter(text, span.end), `end ${span.end}`).toBe(false);
    }
    if (!last) checkBoundary(text, options, span);
    if (i === 0) continue;
    const prev = spans[i - 1]!;
    // Contiguous (union = [0, len)), always advancing, overlapping by at most overlapChars.
    expect(span.start).toBeGreaterThan(prev.start);
    expect(span.start).toBeLessThanOrEqual(prev.end);
    // A chunk ends at least this far in; an overlap as large can make it end inside the previous
    // one (redundant, not wrong), so ends only have to grow below that.
    const endReach = chunkChars - Math.max(Math.floor(chunkChars * REACH_FRACTION), 1);
    if (last || overlapChars < endReach) expect(span.end).toBeGreaterThan(prev.end);
    expect(prev.end - span.start).toBeLessThanOrEqual(overlapChars);
  }
}

/** A cut that is not at whitespace is a full-size cut with no whitespace within reach of it. */
function checkBoundary(text: string, options: ChunkOptions, span: TextSpan): void {
  if (isSpace(text[span.end])) return;
  const target = span.start + options.chunkChars;
  expect(span.end === target || (span.end === target - 1 && splitsCharacter(text, target))).toBe(true);
  const floor = target - Math.floor(options.chunkChars * REACH_FRACTION);
  for (let i = target; i > floor; i--) expect(isSpace(text[i]), `space at ${i} within reach`).toBe(false);
}

const prose = (words: number): string =>
  Array.from({ length: words }, (_, i) => `word${i}${i % 11 === 10 ? '.\n' : ''}`).join(' ');

describe('chunkText', () => {
  it('chunk - empty text has no chunks and short text is one chunk', () => {
    expect(chunkText('')).toEqual([]);
    expect(chunkText('hello world')).toEqual([{ start: 0, end: 11 }]);
    const exact = 'x'.repeat(DEFAULT_CHUNK_OPTIONS.chunkChars);
    expect(chunkText(exact)).toEqual([{ start: 0, end: exact.length }]);
  });

  it('chunk - default options split long prose into overlapping word-aligned chunks', () => {
    const text = prose(2_000);
    const spans = chunkText(text);
    checkSpans(text, DEFAULT_CHUNK_OPTIONS, spans);
    expect(spans.length).toBeGreaterThan(text.length / DEFAULT_CHUNK_OPTIONS.chunkChars);
    for (const [i, span] of spans.entries()) {
      if (i < spans.length - 1) expect(text[span.end]).toMatch(/\s/);
      if (i > 0) {
        expect(text[span.start - 1]).toMatch(/\s/);
        const overlap = spans[i - 1]!.end - span.start;
        // The overlap is real: most of overlapChars, less only the part of a word skipped.
        expect(overlap).toBeGreaterThan(DEFAULT_CHUNK_OPTIONS.overlapChars / 2);
      }
    }
  });

  it('chunk - with no whitespace within reach the cut is hard, at chunkChars', () => {
    const text = 'x'.repeat(250);
    expect(chunkText(text, { chunkChars: 100, overlapChars: 10, chunksMax: 64 })).toEqual([
      { start: 0, end: 100 },
      { start: 90, end: 190 },
      { start: 180, end: 250 },
    ]);
  });

  it('chunk - a space within the last fifth of a chunk becomes the boundary', () => {
    // A space at 85 is within reach of the target end 100 (search down to 80); one at 70 is not.
    const near = `${'a'.repeat(85)} ${'b'.repeat(100)}`;
    expect(chunkText(near, { chunkChars: 100, overlapChars: 0, chunksMax: 64 })[0]).toEqual({
      start: 0,
      end: 85,
    });
    const far = `${'a'.repeat(70)} ${'b'.repeat(100)}`;
    expect(chunkText(far, { chunkChars: 100, overlapChars: 0, chunksMax: 64 })[0]).toEqual({
      start: 0,
      end: 100,
    });
  });

  it('chunk - without overlap the chunks tile the text exactly', () => {
    const text = prose(300);
    const spans = chunkText(text, { chunkChars: 120, overlapChars: 0, chunksMax: 64 });
    checkSpans(text, { chunkChars: 120, overlapChars: 0, chunksMax: 64 }, spans);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBe(spans[i - 1]!.end);
  });

  it('chunk - at chunksMax the last chunk takes the remainder, so no text is dropped', () => {
    const text = prose(200);
    const options = { chunkChars: 100, overlapChars: 10, chunksMax: 3 };
    const spans = chunkText(text, options);
    checkSpans(text, options, spans);
    expect(spans).toHaveLength(3);
    expect(spans[2]!.end).toBe(text.length);
    expect(spans[2]!.end - spans[2]!.start).toBeGreaterThan(options.chunkChars);
    expect(chunkText(text, { ...options, chunksMax: 1 })).toEqual([{ start: 0, end: text.length }]);
  });

  it('chunk - hard cuts never split an astral character into lone surrogates', () => {
    for (const text of ['😀'.repeat(100), `a${'😀'.repeat(100)}`, `${'日本語😀'.repeat(40)}`]) {
      for (const chunkChars of [2, 3, 50, 51]) {
        for (const overlapChars of [0, 1, Math.floor(chunkChars / 3)]) {
          const options = { chunkChars, overlapChars, chunksMax: 1_000 };
          const spans = chunkText(text, options);
          checkSpans(text, options, spans);
          for (const s of spans) expect(text.slice(s.start, s.end).isWellFormed()).toBe(true);
        }
      }
    }
  });

  it('chunk - bad options are programmer errors and throw a RangeError', () => {
    const bad: ChunkOptions[] = [
      { chunkChars: 0, overlapChars: 0, chunksMax: 1 },
      { chunkChars: 10, overlapChars: -1, chunksMax: 1 },
      { chunkChars: 10, overlapChars: 10, chunksMax: 1 },
      { chunkChars: 10, overlapChars: 11, chunksMax: 1 },
      { chunkChars: 10, overlapChars: 2, chunksMax: 0 },
      { chunkChars: 10.5, overlapChars: 2, chunksMax: 4 },
      { chunkChars: 10, overlapChars: 2.5, chunksMax: 4 },
      { chunkChars: Number.NaN, overlapChars: 2, chunksMax: 4 },
      { chunkChars: 10, overlapChars: 2, chunksMax: Number.POSITIVE_INFINITY },
    ];
    for (const options of bad)
      expect(() => chunkText('some text', options), JSON.stringify(options)).toThrow(RangeError);
  });

  it('chunk - spans cover the text, overlap within bounds, respect sizes and prefer whitespace (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom(' ', '\n', '\t', '  ', '😀', '日本', 'é'),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
    );
    const text = fc.array(piece, { maxLength: 400 }).map((parts) => parts.join(''));
    const options = fc
      .record({
        chunkChars: fc.integer({ min: 1, max: 300 }),
        overlapFraction: fc.double({ min: 0, max: 0.99, noNaN: true }),
        chunksMax: fc.integer({ min: 1, max: 40 }),
      })
      .map(({ chunkChars, overlapFraction, chunksMax }) => ({
        chunkChars,
        overlapChars: Math.floor(chunkChars * overlapFraction),
        chunksMax,
      }));
    fc.assert(
      fc.property(text, options, (t, o) => checkSpans(t, o, chunkText(t, o))),
      { numRuns: 400 },
    );
  });

  it('chunk - consecutive chunks share text whenever overlapChars allows it (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme-ascii', minLength: 201, maxLength: 2_000 }),
        fc.integer({ min: 20, max: 200 }),
        fc.integer({ min: 1, max: 19 }),
        (t, chunkChars, overlapChars) => {
          const spans = chunkText(t, { chunkChars, overlapChars, chunksMax: 1_000 });
          expect(spans.length).toBeGreaterThan(1);
          for (let i = 1; i < spans.length; i++)
            expect(spans[i - 1]!.end - spans[i]!.start).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
