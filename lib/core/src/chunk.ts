/**
 * @module chunk
 * Splits a memory's text into overlapping chunks for embedding. Boundaries prefer
 * whitespace so that words are not cut, and every chunk records its offsets so that the
 * event carries the text once.
 */

export interface ChunkOptions {
  /** Target chunk length in characters. */
  chunkChars: number;
  /** Characters shared by consecutive chunks, so a sentence on a boundary is whole in one. */
  overlapChars: number;
  chunksMax: number;
}

export const DEFAULT_CHUNK_OPTIONS: Readonly<ChunkOptions> = {
  chunkChars: 1000,
  overlapChars: 150,
  chunksMax: 64,
};

export interface TextSpan {
  start: number;
  end: number;
}

/** How far back from the target end a whitespace boundary is looked for. */
const BOUNDARY_SEARCH_FRACTION = 0.2;

export function chunkText(text: string, options: ChunkOptions = DEFAULT_CHUNK_OPTIONS): TextSpan[] {
  const { chunkChars, overlapChars, chunksMax } = options;
  // Fractional or NaN options would make fractional or NaN offsets, and chunksMax 0 would still
  // yield one chunk: all are programmer errors, so they stop here rather than reach an event.
  const valid =
    Number.isInteger(chunkChars) &&
    Number.isInteger(overlapChars) &&
    Number.isInteger(chunksMax) &&
    chunkChars >= 1 &&
    overlapChars >= 0 &&
    overlapChars < chunkChars &&
    chunksMax >= 1;
  if (!valid) {
    throw new RangeError(
      `bad chunk options: chunkChars=${chunkChars} overlapChars=${overlapChars} chunksMax=${chunksMax}`,
    );
  }
  const spans: TextSpan[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + chunkChars);
    if (end < text.length) end = softBoundary(text, start, end);
    spans.push({ start, end });
    if (end >= text.length) break;
    if (spans.length >= chunksMax) {
      // The last chunk takes the remainder, so no text is ever dropped from the index.
      spans[spans.length - 1] = { start, end: text.length };
      break;
    }
    start = Math.max(end - overlapChars, start + 1);
    start = skipToWordStart(text, start, end);
    // Forward, not back, so that the overlap stays within overlapChars; start < end keeps the
    // spans contiguous (only a one-character chunk can leave it at end, mid-character).
    if (start < end && splitsSurrogatePair(text, start)) start++;
  }
  return spans;
}

function softBoundary(text: string, start: number, end: number): number {
  const floor = end - Math.floor((end - start) * BOUNDARY_SEARCH_FRACTION);
  for (let i = end; i > floor; i--) {
    if (/\s/.test(text[i] ?? '')) return i;
  }
  // A hard cut must not split an astral character (an emoji, say) into two lone surrogates:
  // each chunk's text would carry a broken character to the embedder, and some refuse it.
  return splitsSurrogatePair(text, end) && end - 1 > start ? end - 1 : end;
}

function skipToWordStart(text: string, start: number, limit: number): number {
  let i = start;
  while (i < limit && i > 0 && !/\s/.test(text[i - 1] ?? '')) i++;
  return i < limit ? i : start;
}

/** True when offset `at` falls between the two UTF-16 halves of one character. */
function splitsSurrogatePair(text: string, at: number): boolean {
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}
