/**
 * Every difference between Linux and macOS in one place: the libc to load,
 * ioctl numbers and errno values, how a child is given the PTY as its
 * controlling terminal, and what /proc tells about a process.
 *
 * Linux is what CI proves. The macOS values are from the system headers; note
 * that on Apple arm64 variadic C functions (`ioctl`) use a different calling
 * convention, which Deno's FFI does not model, so resizing is done with
 * `stty` there.
 *
 * @module
 */

/** True on macOS. */
export const IS_MAC = Deno.build.os === "darwin";

/** Constants that differ between the platforms. */
export const C = IS_MAC
  ? { TIOCSWINSZ: 0x80087467n, EAGAIN: 35, EINTR: 4, EIO: 5 }
  : { TIOCSWINSZ: 0x5414n, EAGAIN: 11, EINTR: 4, EIO: 5 };

/** poll(2) event bits (identical on both). */
export const POLL = { IN: 0x1, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20 } as const;

const SYMBOLS = {
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname: { parameters: ["i32"], result: "pointer" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // Blocks the calling thread: only the PTY reactor's own thread calls it with a timeout
  // (others only ask with 0: is it ready now?).
  pollSync: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32" },
  pipe: { parameters: ["buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
  sysconf: { parameters: ["i32"], result: "i64" },
  // sd_notify(3) over a unix datagram socket (systemd Type=notify).
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  errno: {
    name: IS_MAC ? "__error" : "__errno_location",
    parameters: [],
    result: "pointer",
  },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

/** The libc symbols, loaded on first use. */
export function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (!lib) lib = Deno.dlopen(IS_MAC ? "libSystem.B.dylib" : "libc.so.6", SYMBOLS);
  return lib.symbols;
}

const LINUX_PEER = {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const;
const MAC_PEER = {
  getpeereid: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
} as const;

let linuxPeer: Deno.DynamicLibrary<typeof LINUX_PEER> | null = null;
let macPeer: Deno.DynamicLibrary<typeof MAC_PEER> | null = null;

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/**
 * The user id of the process at the other end of a connected unix socket
 * (`fd`): SO_PEERCRED on Linux, getpeereid(3) on macOS. The kernel records it
 * when the peer connects; the peer cannot forge it.
 * @throws {Error} when the kernel does not say (not a unix socket, bad fd)
 */
export function peerUid(fd: number): number {
  if (!Number.isInteger(fd) || fd < 0) throw new Error(`no file descriptor (${fd})`);
  if (IS_MAC) {
    macPeer ??= Deno.dlopen("libSystem.B.dylib", MAC_PEER);
    const uid = new Uint32Array(1);
    const gid = new Uint32Array(1);
    const r = macPeer.symbols.getpeereid(
      fd,
      new Uint8Array(uid.buffer),
      new Uint8Array(gid.buffer),
    );
    if (r !== 0) throw new Error(`getpeereid failed (errno ${errno()})`);
    return uid[0]!;
  }
  linuxPeer ??= Deno.dlopen("libc.so.6", LINUX_PEER);
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }; (uid_t)-1 is no user:
  // left there, the kernel wrote nothing.
  const cred = new Uint32Array(3).fill(0xffffffff);
  const len = new Uint32Array([12]);
  const r = linuxPeer.symbols.getsockopt(
    fd,
    SOL_SOCKET,
    SO_PEERCRED,
    new Uint8Array(cred.buffer),
    new Uint8Array(len.buffer),
  );
  if (r !== 0) throw new Error(`getsockopt(SO_PEERCRED) failed (errno ${errno()})`);
  if (len[0] !== 12 || cred[1] === 0xffffffff) {
    throw new Error("getsockopt(SO_PEERCRED) gave no uid");
  }
  return cred[1]!;
}

/** The calling thread's errno, read right after a failed synchronous call. */
export function errno(): number {
  const p = libc().errno();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

const F_SETFL = 4;
const F_GETFL = 3;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const O_NONBLOCK_MAC = 0x4;
const O_NONBLOCK_LINUX = 0x800;

/** A pipe (e.g. to wake a thread blocked in poll(2)). Both ends non-blocking and close-on-exec. */
export function wakePipe(): [read: number, write: number] {
  const fds = new Int32Array(2);
  const s = libc();
  if (s.pipe(new Uint8Array(fds.buffer)) !== 0) throw new Error(`pipe failed (errno ${errno()})`);
  const nonblock = IS_MAC ? O_NONBLOCK_MAC : O_NONBLOCK_LINUX;
  for (const fd of fds) {
    s.fcntl(fd, F_SETFD, FD_CLOEXEC);
    s.fcntl(fd, F_SETFL, s.fcntl(fd, F_GETFL, 0) | nonblock);
  }
  return [fds[0]!, fds[1]!];
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;

/**
 * A unix stream socket bound to `path` and listening, as a close-on-exec fd
 * (for `node:net`'s `listen({ fd })`, which then never unlinks the path: the
 * daemon removes its socket itself, and only while it is still its own).
 * @throws {Error} naming the failing call and errno
 */
export function listenUnix(path: string, backlog = 511): number {
  const s = libc();
  const name = new TextEncoder().encode(path);
  const max = IS_MAC ? 104 : 108;
  if (name.length >= max) throw new Error(`socket path too long (${name.length} bytes)`);
  // struct sockaddr_un: Linux { u16 family; char path[108] },
  // macOS { u8 len; u8 family; char path[104] }.
  const addr = new Uint8Array(2 + max);
  if (IS_MAC) {
    addr[0] = addr.length;
    addr[1] = AF_UNIX;
  } else {
    new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  }
  addr.set(name, 2);
  const fd = s.socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) throw new Error(`socket failed (errno ${errno()})`);
  s.fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (s.bind(fd, addr, addr.length) !== 0) {
    const e = errno();
    s.close(fd);
    throw new Error(
      e === (IS_MAC ? 48 : 98) ? "address already in use" : `bind failed (errno ${e})`,
    );
  }
  if (s.listen(fd, backlog) !== 0) {
    const e = errno();
    s.close(fd);
    throw new Error(`listen failed (errno ${e})`);
  }
  return fd;
}

/** Sets the window size of a PTY (master fd). */
export function setWindowSize(fd: number, slavePath: string, cols: number, rows: number): void {
  if (IS_MAC && Deno.build.arch === "aarch64") {
    new Deno.Command("stty", {
      args: ["-f", slavePath, "rows", String(rows), "cols", String(cols)],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return;
  }
  const ws = new Uint16Array([rows, cols, 0, 0]);
  if (libc().ioctl(fd, C.TIOCSWINSZ, new Uint8Array(ws.buffer)) !== 0) {
    throw new Error(`TIOCSWINSZ failed (errno ${errno()})`);
  }
}

let launcher: string[] | undefined;

function findLauncher(): string[] {
  if (launcher) return launcher;
  if (!IS_MAC) {
    for (const dir of ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"]) {
      try {
        Deno.statSync(`${dir}/setsid`);
        // setsid(2) (sh is not a group leader, so setsid(1) does not fork),
        // then TIOCSCTTY on fd 0, then exec.
        launcher = [`${dir}/setsid`, "--ctty"];
        return launcher;
      } catch { /* keep looking */ }
    }
  }
  // macOS has no setsid(1); perl ships with the OS and can do the same.
  const TIOCSCTTY = IS_MAC ? "0x20007461" : "0x540E";
  launcher = [
    "/usr/bin/perl",
    "-e",
    `use POSIX (); POSIX::setsid() or die "setsid: $!\\n"; ` +
    `ioctl(STDIN, ${TIOCSCTTY}, 0) or die "TIOCSCTTY: $!\\n"; ` +
    `exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n";`,
  ];
  return launcher;
}

/**
 * argv that runs `command args…` as a session leader whose controlling
 * terminal, stdin, stdout and stderr are the PTY slave at `tty`. Every step
 * replaces the previous process by exec, so the spawned pid is the program's
 * pid (and its process group and session id). With `join` (cgroup.procs
 * files), the shell first moves itself into those cgroups, so the program
 * and everything it starts run there from the start; when it cannot, it says
 * so on the terminal and exits 125 without starting the program.
 */
export function ptyLaunchArgv(
  tty: string,
  command: string,
  args: string[],
  join: string[] = [],
): string[] {
  if (join.length === 0) {
    return [
      "/bin/sh",
      "-c",
      'tty=$1; shift; exec "$@" <>"$tty" >&0 2>&0',
      "sh",
      tty,
      ...findLauncher(),
      command,
      ...args,
    ];
  }
  return [
    "/bin/sh",
    "-c",
    'tty=$1; n=$2; shift 2; while [ "$n" -gt 0 ]; do ' +
    'echo $$ 2>/dev/null >"$1" || { echo "claude-sessions: cannot join the cgroup $1" >"$tty"; ' +
    'exit 125; }; shift; n=$((n - 1)); done; exec "$@" <>"$tty" >&0 2>&0',
    "sh",
    tty,
    String(join.length),
    ...join,
    ...findLauncher(),
    command,
    ...args,
  ];
}

/** What `/proc/<pid>/stat` tells about a process. */
export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Start time (clock ticks since boot): with the pid, names one process for good. */
  start: string;
  /** CPU time (clock ticks): its own, user and system, plus its waited-for children's. */
  ticks: number;
  /** Resident set size, in pages. */
  rss: number;
}

/** sysconf(3) names. */
const SC = IS_MAC ? { CLK_TCK: 3, PAGESIZE: 29 } : { CLK_TCK: 2, PAGESIZE: 30 };

const sysconfCache = new Map<number, number>();

/** sysconf(3) of `name`, or `fallback` when it cannot be asked; asked once. */
function sysconf(name: number, fallback: number): number {
  let n = sysconfCache.get(name);
  if (n === undefined) {
    n = 0;
    try {
      n = Number(libc().sysconf(name));
    } catch { /* no libc: the usual value */ }
    if (!(n > 0)) n = fallback;
    sysconfCache.set(name, n);
  }
  return n;
}

/** Clock ticks per second (`sysconf(_SC_CLK_TCK)`; 100 when it cannot be asked). */
export function clockTicks(): number {
  return sysconf(SC.CLK_TCK, 100);
}

/** Bytes in a memory page (`sysconf(_SC_PAGESIZE)`; 4096 when it cannot be asked). */
export function pageSize(): number {
  return sysconf(SC.PAGESIZE, 4096);
}

/** State, parent, process group, session and start time of a pid from /proc (Linux), or null. */
export function procStat(pid: number): ProcStat | null {
  if (IS_MAC) return null;
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // f[0] is field 3 (state) of proc(5); field n is f[n - 3].
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    state: f[0] ?? "",
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    start: f[19] ?? "",
    ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    rss: Number(f[21]),
  };
}

/**
 * A process's resident memory in bytes, exactly (the second field of
 * `/proc/<pid>/statm`: the kernel adds it up as it does `status`'s `VmRSS`,
 * in a file a third the size and cheaper to produce; `stat`'s count is the
 * kernel's per-CPU estimate, off by up to hundreds of KiB), or null when
 * gone (Linux).
 */
export function procRss(pid: number): number | null {
  if (IS_MAC) return null;
  try {
    const resident = Number(Deno.readTextFileSync(`/proc/${pid}/statm`).split(" ")[1]);
    return Number.isFinite(resident) ? resident * pageSize() : null;
  } catch {
    return null;
  }
}

/**
 * Value of one environment variable of a running process (Linux, same user),
 * or undefined when it cannot be read. Used to tell our own orphaned session
 * processes from unrelated ones that reused a pid.
 */
export function processEnv(pid: number, name: string): string | undefined {
  if (IS_MAC) return undefined;
  try {
    const raw = Deno.readFileSync(`/proc/${pid}/environ`);
    const text = new TextDecoder().decode(raw);
    for (const entry of text.split("\0")) {
      if (entry.startsWith(name + "=")) return entry.slice(name.length + 1);
    }
  } catch { /* gone or not ours */ }
  return undefined;
}

/** True while any process is in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  if (pgid <= 0) return false;
  return libc().kill(-pgid, 0) === 0 || errno() === EPERM;
}

const EPERM = 1;

/**
 * Replaces this process (same pid, descriptors and signal state) by a fresh
 * run of the same command line with `env` (Linux: the command line is read
 * from /proc). Returns only when that is not possible, saying why.
 */
export function reexec(env: Record<string, string>): string {
  if (IS_MAC) return "not on macOS";
  let argv: string[];
  try {
    argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  } catch (e) {
    return `cannot read /proc/self/cmdline: ${(e as Error).message}`;
  }
  if (argv.at(-1) === "") argv.pop();
  const enc = new TextEncoder();
  const keep: Uint8Array[] = [];
  const cstr = (s: string) => {
    const b = enc.encode(s + "\0");
    keep.push(b);
    return b;
  };
  const table = (items: string[]) => {
    const t = new BigUint64Array(items.length + 1);
    items.forEach((
      s,
      i,
    ) => (t[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(cstr(s))))));
    return new Uint8Array(t.buffer);
  };
  const path = cstr(Deno.execPath());
  const args = table(argv);
  const envp = table(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  libc().execve(path, args, envp);
  return `execve failed (errno ${errno()})`;
}

/**
 * Gives memory freed by the allocator back to the system (glibc's
 * `malloc_trim`; nothing elsewhere).
 */
export function trimMemory(): void {
  if (IS_MAC) return;
  libc().malloc_trim?.(0n);
}

const PRIORITY = {
  gettid: { parameters: [], result: "i32", optional: true },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
} as const;

/**
 * Lowers the CPU priority of the calling thread to `nice` (Linux, where a
 * thread has a nice value of its own): it then runs on what the other
 * threads leave idle. Returns why it could not, or null.
 */
export function niceThisThread(nice: number): string | null {
  if (IS_MAC) return "a thread's own priority is not supported on macOS";
  const l = Deno.dlopen("libc.so.6", PRIORITY);
  try {
    if (!l.symbols.gettid) return "this libc has no gettid";
    const PRIO_PROCESS = 0;
    if (l.symbols.setpriority(PRIO_PROCESS, l.symbols.gettid(), nice) !== 0) {
      return `setpriority failed (errno ${errno()})`;
    }
    return null;
  } finally {
    l.close();
  }
}
