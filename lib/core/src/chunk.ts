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
  if (chunkChars < 1 || overlapChars < 0 || overlapChars >= chunkChars) {
    throw new RangeError(`bad chunk options: chunkChars=${chunkChars} overlapChars=${overlapChars}`);
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
  }
  return spans;
}

function softBoundary(text: string, start: number, end: number): number {
  const floor = end - Math.floor((end - start) * BOUNDARY_SEARCH_FRACTION);
  for (let i = end; i > floor; i--) {
    if (/\s/.test(text[i] ?? '')) return i;
  }
  return end;
}

function skipToWordStart(text: string, start: number, limit: number): number {
  let i = start;
  while (i < limit && i > 0 && !/\s/.test(text[i - 1] ?? '')) i++;
  return i < limit ? i : start;
}
