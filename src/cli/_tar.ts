/**
 * A minimal ustar (POSIX.1-1988) archive writer: regular files only, written
 * as a stream of 512-byte blocks.
 *
 * @module
 */

const BLOCK = 512;

/** A regular file to add. */
export interface TarEntry {
  /** Path inside the archive (at most 255 bytes, split at a `/` beyond 100). */
  name: string;
  /** Exact size in bytes; `data` must supply exactly this many. */
  size: number;
  /** Permission bits (default 0o600). */
  mode?: number;
  /** Modification time (default now). */
  mtime?: Date;
  /** The content: bytes, or chunks adding up to `size`. */
  data: Uint8Array | AsyncIterable<Uint8Array>;
}

/** Writes a ustar archive to a byte sink. */
export class TarWriter {
  #write: (chunk: Uint8Array) => Promise<void>;
  #enc = new TextEncoder();

  /** @param write receives the archive's bytes in order */
  constructor(write: (chunk: Uint8Array) => Promise<void>) {
    this.#write = write;
  }

  /**
   * Adds one regular file.
   * @throws {Error} when the name does not fit or the data is not `size` bytes
   */
  async add(entry: TarEntry): Promise<void> {
    await this.#write(this.header(entry));
    let written = 0;
    const chunks = entry.data instanceof Uint8Array ? [entry.data] : entry.data;
    for await (const chunk of chunks) {
      const take = chunk.subarray(0, Math.max(0, entry.size - written));
      if (take.length > 0) await this.#write(take);
      written += take.length;
      if (written >= entry.size) break;
    }
    if (written !== entry.size) {
      throw new Error(`${entry.name}: expected ${entry.size} bytes, got ${written}`);
    }
    const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (pad > 0) await this.#write(new Uint8Array(pad));
  }

  /** Ends the archive (two zero blocks). */
  async finish(): Promise<void> {
    await this.#write(new Uint8Array(BLOCK * 2));
  }

  /** The 512-byte header block of an entry. */
  header(entry: TarEntry): Uint8Array {
    const h = new Uint8Array(BLOCK);
    const nameBytes = this.#enc.encode(entry.name);
    let name = nameBytes;
    let prefix = new Uint8Array(0);
    if (nameBytes.length > 100) {
      // Split at a slash so that the prefix fits 155 bytes and the rest 100.
      let cut = -1;
      for (let i = nameBytes.length - 1; i > 0; i--) {
        if (nameBytes[i] === 0x2f && i <= 155 && nameBytes.length - i - 1 <= 100) {
          cut = i;
          break;
        }
      }
      if (cut === -1) throw new Error(`name too long for a tar archive: ${entry.name}`);
      prefix = nameBytes.subarray(0, cut);
      name = nameBytes.subarray(cut + 1);
    }
    h.set(name, 0);
    this.#octal(h, 100, 8, entry.mode ?? 0o600);
    this.#octal(h, 108, 8, 0); // uid
    this.#octal(h, 116, 8, 0); // gid
    this.#octal(h, 124, 12, entry.size);
    this.#octal(h, 136, 12, Math.floor((entry.mtime ?? new Date()).getTime() / 1000));
    h.fill(0x20, 148, 156); // checksum counted as spaces
    h[156] = 0x30; // typeflag '0': regular file
    h.set(this.#enc.encode("ustar\0"), 257);
    h.set(this.#enc.encode("00"), 263);
    h.set(prefix, 345);
    let sum = 0;
    for (const b of h) sum += b;
    const chk = sum.toString(8).padStart(6, "0");
    h.set(this.#enc.encode(`${chk}\0 `), 148);
    return h;
  }

  #octal(h: Uint8Array, at: number, len: number, value: number): void {
    const text = value.toString(8).padStart(len - 1, "0");
    if (text.length > len - 1) throw new Error(`value ${value} does not fit a tar header`);
    h.set(this.#enc.encode(text + "\0"), at);
  }
}
