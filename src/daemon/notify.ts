/**
 * systemd readiness notification (`Type=notify`): one datagram such as
 * `READY=1` sent to the unix socket named by `NOTIFY_SOCKET`, as sd_notify(3)
 * does, through libc by FFI.
 *
 * It is sent from the daemon's own (main) process, so the unit can keep the
 * strict `NotifyAccess=main`, and nothing races: a helper like
 * `systemd-notify` may exit before systemd has read its message, after which
 * systemd can no longer tell which unit it came from.
 *
 * @module
 */

import { errno, IS_MAC, libc } from "./_platform.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH = 108;

/** Where notifications go (from the environment, read once), or null. */
export class Notifier {
  readonly #address: Uint8Array | null;
  /** The socket named by the environment, for logs. */
  readonly target: string | null;

  private constructor(target: string | null) {
    this.target = target;
    this.#address = target === null ? null : sockaddr(target);
  }

  /**
   * Takes `NOTIFY_SOCKET` out of the environment (so no child inherits it)
   * and returns a notifier for it; a no-op notifier when it is unset, or on
   * macOS.
   * @throws {Error} when `NOTIFY_SOCKET` is not a usable address
   */
  static fromEnv(): Notifier {
    const target = Deno.env.get("NOTIFY_SOCKET") ?? null;
    Deno.env.delete("NOTIFY_SOCKET");
    if (IS_MAC || !target) return new Notifier(null);
    return new Notifier(target);
  }

  /** Whether notifications are sent anywhere. */
  get enabled(): boolean {
    return this.#address !== null;
  }

  /**
   * Sends `state` (newline-separated `KEY=VALUE` assignments, e.g.
   * `READY=1`). Returns false when notifications are disabled.
   * @throws {Error} when the datagram cannot be sent
   */
  send(state: string): boolean {
    if (!this.#address) return false;
    const s = libc();
    const fd = s.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket(AF_UNIX) failed (errno ${errno()})`);
    try {
      const msg = new TextEncoder().encode(state);
      const n = s.sendto(
        fd,
        msg,
        BigInt(msg.length),
        MSG_NOSIGNAL,
        this.#address,
        this.#address.length,
      );
      if (n < 0) {
        throw new Error(`sending "${state}" to ${this.target} failed (errno ${errno()})`);
      }
    } finally {
      s.close(fd);
    }
    return true;
  }
}

/**
 * A Linux `sockaddr_un` for a path, or for an abstract name written with a
 * leading `@` (as systemd does), sized as the kernel expects.
 * @throws {Error} when the address is not absolute or too long
 */
export function sockaddr(target: string): Uint8Array {
  const abstract = target.startsWith("@");
  if (!abstract && !target.startsWith("/")) {
    throw new Error(`NOTIFY_SOCKET must be an absolute path or @name, got "${target}"`);
  }
  const name = new TextEncoder().encode(target);
  if (abstract) name[0] = 0;
  // A path is NUL-terminated; an abstract name is exactly its bytes.
  const len = name.length + (abstract ? 0 : 1);
  if (len > SUN_PATH) throw new Error(`NOTIFY_SOCKET too long: ${target}`);
  const addr = new Uint8Array(2 + len);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, 2);
  return addr;
}
