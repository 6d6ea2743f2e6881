/**
 * @module snapshot-files
 * Durable file primitives for snapshots: a buffered writer that hashes and fsyncs what it
 * writes, a hashing block reader, directory fsync, and the atomically switched `CURRENT`
 * pointer. Nothing here knows the snapshot format.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileDigest {
  bytes: number;
  sha256: string;
}

/** Writes are gathered into blocks of this size: few syscalls, bounded memory. */
const WRITE_BLOCK_BYTES = 1024 * 1024;
/** Files are read back in blocks of this size. */
const READ_BLOCK_BYTES = 1024 * 1024;

export const CURRENT_FILE = 'CURRENT';
const CURRENT_TMP_FILE = 'CURRENT.tmp';

/** Appends to a new file, hashing every byte; `finish` fsyncs before it reports the digest. */
export class DurableWriter {
  readonly #handle: FileHandle;
  readonly #hash: Hash = createHash('sha256');
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #bytes = 0;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  static async create(path: string): Promise<DurableWriter> {
    // 'wx' refuses to overwrite: a snapshot directory is always freshly made.
    return new DurableWriter(await open(path, 'wx'));
  }

  async write(data: string | Uint8Array): Promise<void> {
    // A view, not a copy: the block concatenation below copies once, and callers never
    // change what they handed over (document records are immutable).
    const buffer =
      typeof data === 'string'
        ? Buffer.from(data, 'utf8')
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#pending.push(buffer);
    this.#pendingBytes += buffer.byteLength;
    if (this.#pendingBytes >= WRITE_BLOCK_BYTES) await this.#flush();
  }

  async finish(): Promise<FileDigest> {
    try {
      await this.#flush();
      await this.#handle.sync();
    } finally {
      await this.#handle.close();
    }
    return { bytes: this.#bytes, sha256: this.#hash.digest('hex') };
  }

  /** Closes without syncing, after a failure; the caller deletes the half-written snapshot. */
  async abandon(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }

  async #flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const block = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#hash.update(block);
    this.#bytes += block.byteLength;
    await this.#handle.write(block, 0, block.byteLength);
  }
}

/**
 * Reads a file front to back, in exact-sized pieces or as lines, hashing all of it. Reads go
 * through one block buffer: a syscall per document would dominate loading a large shard.
 */
export class HashingReader {
  readonly #handle: FileHandle;
  readonly #hash: Hash = createHash('sha256');
  readonly #block = new Uint8Array(READ_BLOCK_BYTES);
  #blockStart = 0;
  #blockEnd = 0;
  /** Bytes read from the file so far (and hashed). */
  #position = 0;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  static async open(path: string): Promise<HashingReader> {
    return new HashingReader(await open(path, 'r'));
  }

  /** Fills `target` completely; false at end of file (a short file is reported, not padded). */
  async readExactly(target: Uint8Array): Promise<boolean> {
    let filled = 0;
    while (filled < target.byteLength) {
      if (this.#blockStart === this.#blockEnd && !(await this.#refill())) return false;
      const n = Math.min(this.#blockEnd - this.#blockStart, target.byteLength - filled);
      target.set(this.#block.subarray(this.#blockStart, this.#blockStart + n), filled);
      this.#blockStart += n;
      filled += n;
    }
    return true;
  }

  /** Yields the file's lines without their `\n`; the last line needs no terminator. */
  async *lines(): AsyncGenerator<string> {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let carry = '';
    while (this.#blockStart < this.#blockEnd || (await this.#refill())) {
      const text = decoder.decode(this.#block.subarray(this.#blockStart, this.#blockEnd), { stream: true });
      this.#blockStart = this.#blockEnd;
      const parts = (carry + text).split('\n');
      carry = parts.pop() ?? '';
      yield* parts;
    }
    carry += decoder.decode();
    if (carry.length > 0) yield carry;
  }

  /** Reads (and hashes) whatever is left, so trailing bytes show in the digest, then closes. */
  async finish(): Promise<FileDigest> {
    try {
      while (await this.#refill()) {
        // Draining only: #refill hashes every block it reads.
      }
    } finally {
      await this.#handle.close();
    }
    return { bytes: this.#position, sha256: this.#hash.digest('hex') };
  }

  async abandon(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }

  async #refill(): Promise<boolean> {
    const { bytesRead } = await this.#handle.read(this.#block, 0, this.#block.byteLength, this.#position);
    this.#blockStart = 0;
    this.#blockEnd = bytesRead;
    this.#position += bytesRead;
    this.#hash.update(this.#block.subarray(0, bytesRead));
    return bytesRead > 0;
  }
}

/** Writes a small file in one go and fsyncs it. */
export async function writeDurably(path: string, content: string): Promise<FileDigest> {
  const writer = await DurableWriter.create(path);
  try {
    await writer.write(content);
  } catch (err) {
    await writer.abandon();
    throw err;
  }
  return writer.finish();
}

/** Hashes a whole file; with `sync`, also fsyncs it (for files usearch wrote). */
export async function digestFile(path: string, options: { sync: boolean }): Promise<FileDigest> {
  // fsync through a read-only descriptor is enough on Linux: it flushes the file, not the fd.
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const block = new Uint8Array(READ_BLOCK_BYTES);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(block, 0, block.byteLength, bytes);
      if (bytesRead === 0) break;
      hash.update(block.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    if (options.sync) await handle.sync();
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

/** Makes a directory's entries (created, renamed files) durable, not only their contents. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Points `CURRENT` at a snapshot directory. The name goes to a temporary file that is fsynced
 * and then renamed over `CURRENT`: rename is atomic, so a crash leaves either the old or the
 * new pointer, never a torn one. The directory fsync makes the rename itself durable.
 */
export async function switchCurrent(dir: string, snapshotName: string): Promise<void> {
  const tmpPath = join(dir, CURRENT_TMP_FILE);
  const handle = await open(tmpPath, 'w');
  try {
    await handle.writeFile(`${snapshotName}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmpPath, join(dir, CURRENT_FILE));
  await syncDirectory(dir);
}
