/**
 * This process's terminal input, read by one reader for the whole process
 * and lent to one owner at a time: a full-screen program holds it, an
 * attachment takes it over, and on release it is the program's again. No
 * keystroke is lost between owners (a read cannot be cancelled, so one
 * left pending by a finished owner would swallow the next key).
 *
 * @module
 */

/** Where input comes from (the process's stdin by default). */
export interface InputSource {
  read(buf: Uint8Array): Promise<number | null>;
}

/** Receives input while holding it. */
export interface InputOwner {
  /** Bytes typed. */
  data(bytes: Uint8Array): void;
  /** The input ended (the terminal closed). */
  end?(): void;
}

/** Bytes kept for the next owner while nobody holds the input. */
const UNOWNED_LIMIT = 64 * 1024;

/** Terminal input lent to one owner at a time (the latest to take it). */
export class TerminalInput {
  static #shared: TerminalInput | null = null;

  /** The input of this process's stdin (one reader per process). */
  static shared(): TerminalInput {
    return (TerminalInput.#shared ??= new TerminalInput(Deno.stdin));
  }

  readonly #source: InputSource;
  readonly #owners: InputOwner[] = [];
  #unowned: Uint8Array[] = [];
  #unownedBytes = 0;
  #reading = false;
  #ended = false;

  constructor(source: InputSource) {
    this.#source = source;
  }

  /** Whether the input has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Makes `owner` receive the input (what was typed while nobody held it
   * first) until the returned function releases it; the previous owner gets
   * it back then.
   */
  take(owner: InputOwner): () => void {
    this.#owners.push(owner);
    const held = this.#unowned;
    this.#unowned = [];
    this.#unownedBytes = 0;
    for (const b of held) owner.data(b);
    if (this.#ended) owner.end?.();
    if (!this.#reading) void this.#pump();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const i = this.#owners.lastIndexOf(owner);
      if (i !== -1) this.#owners.splice(i, 1);
    };
  }

  async #pump(): Promise<void> {
    this.#reading = true;
    const buf = new Uint8Array(4096);
    while (true) {
      let n: number | null;
      try {
        n = await this.#source.read(buf);
      } catch {
        n = null; // the terminal is gone
      }
      if (n === null) break;
      if (n === 0) continue;
      const bytes = buf.slice(0, n);
      const owner = this.#owners.at(-1);
      if (owner) {
        owner.data(bytes);
      } else {
        this.#unowned.push(bytes);
        this.#unownedBytes += bytes.length;
        while (this.#unownedBytes > UNOWNED_LIMIT && this.#unowned.length > 1) {
          this.#unownedBytes -= this.#unowned.shift()!.length;
        }
      }
    }
    this.#ended = true;
    this.#owners.at(-1)?.end?.();
  }
}
