/**
 * A stand-in for systemd's notification socket: a unix datagram socket bound
 * at a path, read through libc by FFI (Linux). Each receive waits on a
 * worker thread with a receive timeout, so a test fails instead of hanging.
 *
 * @module
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;

const lib = () =>
  Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize", nonblocking: true },
    close: { parameters: ["i32"], result: "i32" },
  });

/** A bound notification socket. */
export class NotifySocket {
  readonly path: string;
  readonly #lib: ReturnType<typeof lib>;
  readonly #fd: number;

  private constructor(path: string, l: ReturnType<typeof lib>, fd: number) {
    this.path = path;
    this.#lib = l;
    this.#fd = fd;
  }

  /** Binds a datagram socket at `path`; receives time out after `timeoutMs`. */
  static bind(path: string, timeoutMs = 30_000): NotifySocket {
    const l = lib();
    const fd = l.symbols.socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) throw new Error("socket failed");
    const name = new TextEncoder().encode(path);
    const addr = new Uint8Array(2 + name.length + 1);
    new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
    addr.set(name, 2);
    if (l.symbols.bind(fd, addr, addr.length) !== 0) throw new Error(`bind ${path} failed`);
    const tv = new BigInt64Array([BigInt(Math.floor(timeoutMs / 1000)), 0n]);
    l.symbols.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(tv.buffer), 16);
    return new NotifySocket(path, l, fd);
  }

  /** The next datagram's text. */
  async receive(): Promise<string> {
    const buf = new Uint8Array(4096);
    const n = Number(await this.#lib.symbols.recv(this.#fd, buf, BigInt(buf.length), 0));
    if (n < 0) throw new Error(`no notification on ${this.path} in time`);
    return new TextDecoder().decode(buf.subarray(0, n));
  }

  close(): void {
    this.#lib.symbols.close(this.#fd);
    this.#lib.close();
  }
}
