/**
 * A bounded queue read as an async iterable: the producer never waits (a
 * socket reader must not), and a consumer that falls more than `limit`
 * items behind gets an error instead of unbounded memory.
 *
 * @module
 */

/** Items in, one async iteration out. */
export class BoundedQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #limit: number;
  #ended = false;
  #error: Error | null = null;
  #overflow: () => Error;
  #wake: (() => void) | null = null;

  /**
   * @param limit most items held unread
   * @param overflow the error a reader gets, after what was queued, once the limit was passed
   */
  constructor(limit: number, overflow: () => Error) {
    this.#limit = limit;
    this.#overflow = overflow;
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Whether it has ended (or failed): nothing more will be added. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Adds an item; past the limit the queue fails (and drops this and later items). */
  push(item: T): void {
    if (this.#ended) return;
    if (this.size >= this.#limit) {
      this.fail(this.#overflow());
      return;
    }
    this.#items.push(item);
    this.#wakeUp();
  }

  /** Ends the iteration once the queued items are read. */
  end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  /** Ends the iteration with `error` once the queued items are read. */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#error = error;
    this.end();
  }

  /** The next item; `done` once ended and empty; throws the failure. */
  async next(): Promise<IteratorResult<T, undefined>> {
    while (this.size === 0) {
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return { done: true, value: undefined };
      }
      await new Promise<void>((r) => (this.#wake = r));
    }
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return { done: false, value: item };
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: () => this.next(),
      return: () => {
        this.end();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
}
