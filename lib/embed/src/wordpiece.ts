/**
 * @module wordpiece
 * BERT's uncased tokenizer, as the `tokenizers` library runs it for all-MiniLM-L6-v2: the
 * BertNormalizer (clean text, space out CJK ideographs, strip accents, lower-case), the
 * BertPreTokenizer (split on whitespace and isolate punctuation) and greedy longest-match
 * WordPiece with `##` continuations. It reads only `vocab.txt`, so no tokenizer package is needed.
 */

/** Words longer than this become `[UNK]`, as in BERT (counted in code points). */
const WORD_CHARS_MAX = 100;
const CONTINUATION_PREFIX = '##';

/** Control and format characters (Unicode category C) that BERT removes, keeping \t \n \r. */
const CONTROL = /[\p{C}\u{fffd}]/u;
const WHITESPACE = /\s/u;
const NONSPACING_MARK = /\p{Mn}/u;
/** Unicode punctuation plus ASCII symbols, which BERT treats as punctuation too. */
const PUNCTUATION = /[\p{P}!-/:-@[-`{-~]/u;

export interface WordPieceVocab {
  readonly ids: ReadonlyMap<string, number>;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
}

/** Parses `vocab.txt` (one token per line, the line number is the id). */
export function parseVocab(text: string): WordPieceVocab {
  const ids = new Map<string, number>();
  const lines = text.split('\n');
  // A trailing newline leaves one empty last line, which is not a token.
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, id) => {
    ids.set(line.endsWith('\r') ? line.slice(0, -1) : line, id);
  });
  const special = (token: string): number => {
    const id = ids.get(token);
    if (id === undefined) throw new Error(`wordpiece: vocab has no ${token} token`);
    return id;
  };
  return {
    ids,
    unkId: special('[UNK]'),
    clsId: special('[CLS]'),
    sepId: special('[SEP]'),
    padId: special('[PAD]'),
  };
}

function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** The BertNormalizer with lowercase = strip_accents = true. */
export function normalize(text: string): string {
  let cleaned = '';
  for (const char of text) {
    const cp = char.codePointAt(0) as number;
    if (char === '\t' || char === '\n' || char === '\r' || WHITESPACE.test(char)) cleaned += ' ';
    else if (cp === 0 || CONTROL.test(char)) continue;
    else if (isChineseChar(cp)) cleaned += ` ${char} `;
    else cleaned += char;
  }
  let stripped = '';
  for (const char of cleaned.normalize('NFD')) if (!NONSPACING_MARK.test(char)) stripped += char;
  return stripped.toLowerCase();
}

/** The BertPreTokenizer: whitespace separates words, each punctuation character is a word. */
export function preTokenize(normalized: string): string[] {
  const words: string[] = [];
  let word = '';
  for (const char of normalized) {
    if (WHITESPACE.test(char) || PUNCTUATION.test(char)) {
      if (word !== '') words.push(word);
      word = '';
      if (!WHITESPACE.test(char)) words.push(char);
    } else {
      word += char;
    }
  }
  if (word !== '') words.push(word);
  return words;
}

/** Greedy longest-match-first; a word with any unmatched rest becomes a single `[UNK]`. */
function wordPieces(word: string, vocab: WordPieceVocab, out: number[]): void {
  const chars = Array.from(word);
  if (chars.length > WORD_CHARS_MAX) {
    out.push(vocab.unkId);
    return;
  }
  const pieces: number[] = [];
  for (let start = 0; start < chars.length; ) {
    let end = chars.length;
    let id: number | undefined;
    for (; end > start; end--) {
      const piece = chars.slice(start, end).join('');
      id = vocab.ids.get(start > 0 ? CONTINUATION_PREFIX + piece : piece);
      if (id !== undefined) break;
    }
    if (id === undefined) {
      out.push(vocab.unkId);
      return;
    }
    pieces.push(id);
    start = end;
  }
  out.push(...pieces);
}

/**
 * Token ids framed as `[CLS] … [SEP]`, at most `tokensMax` in all. Longer text keeps its head
 * and drops the tail, as sentence-transformers does. WordPiece stops as soon as the limit is
 * reached; normalising stays linear in the text, which the chunker in core already bounds.
 */
export function encode(text: string, vocab: WordPieceVocab, tokensMax: number): number[] {
  const piecesMax = tokensMax - 2;
  const ids: number[] = [vocab.clsId];
  const pieces: number[] = [];
  for (const word of preTokenize(normalize(text))) {
    wordPieces(word, vocab, pieces);
    if (pieces.length >= piecesMax) break;
  }
  for (let i = 0; i < Math.min(pieces.length, piecesMax); i++) ids.push(pieces[i] as number);
  ids.push(vocab.sepId);
  return ids;
}
