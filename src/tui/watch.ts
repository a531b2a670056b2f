/**
 * `watch`: the full-screen dashboard. It follows the sessions of one or
 * more hosts' daemons through their event streams (a {@linkcode SessionFeed}
 * per host, each on its own connection: a snapshot, then every event, and
 * usage pushes; no polling), draws at most {@linkcode FRAMES_PER_SECOND}
 * frames a second writing only the cells that changed, and acts on the
 * selected session, on its host: attach (and come back), send a line, allow
 * or deny a permission, kill, resume, start a new one. A host that cannot
 * be reached is said so and retried on its own; the others go on. The
 * terminal is restored on every way out: `q`, Ctrl-C, SIGTERM/SIGHUP/SIGINT,
 * the terminal closing, an error, a crash.
 *
 * @module
 */

import type { Client } from "../client/client.ts";
import { SessionFeed } from "../client/feed.ts";
import { LIVE_STATUSES, type SessionRecord } from "../protocol.ts";
import {
  describeWait,
  exitSummary,
  notificationText,
  onHost,
  viewSession,
} from "../session_view.ts";
import { chooseOsc, insideTmux, terminalNotification } from "../terminal_notify.ts";
import { WaitTracker } from "../waits.ts";
import { printable } from "../printable.ts";
import { UserError } from "../errors.ts";
import { attachTerminal } from "./attach.ts";
import { TerminalInput } from "./input.ts";
import { type Key, KeyReader } from "./_keys.ts";
import { FrameClock, FrameWriter } from "./canvas.ts";
import {
  type ConnState,
  drawWatch,
  type HostView,
  isExited,
  listed,
  rowKey,
  type WatchRow,
  type WatchState,
} from "./watch_view.ts";

/** Most frames drawn in a second. */
export const FRAMES_PER_SECOND = 10;

/** How long after allowing or denying a permission the status should have moved. */
export const ANSWER_CHECK_MS = 2500;

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J";
/** Puts back what ENTER (and a frame cut short) changed. */
const LEAVE = "\x1b[?2026l\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";
/** After an attachment (which resets the terminal's modes): this program's modes again. */
const REENTER = "\x1b[?25l\x1b[?7l";

/** A host whose sessions `watch` follows. */
export interface WatchHost {
  /** `local` (this machine), or the host as the user named it (`box`, `ssh://…`). */
  name: string;
  /** This machine: `N` and `r` give sessions watch's environment, and `N` checks directories here. */
  local: boolean;
  /** The first connection, when the caller made one (starting a daemon if needed). */
  first?: Client;
  /** Opens a connection: connecting, reconnecting, attaching (never starting a daemon). */
  connect: () => Promise<Client>;
}

/** What {@linkcode runWatch} needs. */
export interface WatchOptions {
  /** The hosts to follow (at least one), in the order listed. */
  hosts: WatchHost[];
  color: boolean;
  /** Ring the bell and show terminal notifications when a session starts waiting. */
  alerts: boolean;
  /** The naive baseline (for bench/watch.ts): a full redraw per change, none coalesced. */
  fullRedraw: boolean;
  /** Environment for `new` and `resume` here (and how notifications are written: TERM, TMUX). */
  env: Record<string, string>;
  /** The directory `N` offers here. */
  cwd: string;
  /** This machine's home directory (shown as `~`). */
  home?: string;
  /** Checks a directory typed for `N` here; returns it absolute and real. */
  checkDir: (dir: string) => string | Promise<string>;
  /** Checks a directory typed for `N` on another host (absolute there, or `~/…`); returns it. */
  checkRemoteDir: (dir: string, host: string) => string;
}

/** One host followed: its feed, its connection's state, its waits. */
interface Followed {
  spec: WatchHost;
  feed: SessionFeed;
  conn: ConnState;
  /** Before its first snapshot. */
  connecting: boolean;
  waits: WaitTracker;
}

/** How it ended. */
interface Outcome {
  code: number;
  error?: unknown;
}

/** A line being typed, and what Enter does with it. */
interface PromptState {
  label: string;
  text: string;
  submit: (text: string) => void;
  /** Called as the text changes (the filter applies as you type). */
  change?: (text: string) => void;
  cancel?: () => void;
  /** One key answers (a y/N question). */
  single?: boolean;
}

/** Runs the dashboard on this process's terminal (stdin and stdout must be one) until the user quits; returns the exit code. */
export async function runWatch(opts: WatchOptions): Promise<number> {
  return await new Watch(opts).run();
}

class Watch {
  readonly #opts: WatchOptions;
  readonly #hosts: Followed[];
  readonly #input = TerminalInput.shared();
  readonly #keys = new KeyReader();
  readonly #writer = new FrameWriter();
  readonly #clock: FrameClock;
  readonly #enc = new TextEncoder();
  #cols = 80;
  #rows = 24;
  // What the frame shows.
  #showExited = false;
  #filter = "";
  /** The selected row's key (host and id: see `rowKey`). */
  #selected: string | null = null;
  #selIndex = 0;
  #top = 0;
  #pageRows = 1;
  #message: { text: string; error: boolean } | null = null;
  #prompt: PromptState | null = null;
  #help = false;
  // The preview pane.
  #previewOn = false;
  #previewFor: string | null = null;
  #previewLines: string[] | null = null;
  #previewNote: string | undefined;
  #previewBusy = false;
  #previewAgain = false;
  // Attaching.
  #attached: string | null = null;
  #attaching: Promise<void> | null = null;
  /** A session `N` started (its row's key), to select once it is listed. */
  #pendingSelect: string | null = null;
  // Output.
  #chain: Promise<void> = Promise.resolve();
  #writing = false;
  #owed = false;
  #restored = false;
  // Ending.
  #done = false;
  #finish!: (o: Outcome) => void;
  readonly #ended = new Promise<Outcome>((r) => (this.#finish = r));
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #cleanups: (() => void)[] = [];

  constructor(opts: WatchOptions) {
    this.#opts = opts;
    this.#hosts = opts.hosts.map((spec) => this.#followed(spec));
    this.#clock = new FrameClock(1000 / FRAMES_PER_SECOND, () => this.#guard(() => this.#draw()));
  }

  /** A host's feed (its first connection the one the caller made) and waits. */
  #followed(spec: WatchHost): Followed {
    let first: Client | null = spec.first ?? null;
    const feed = new SessionFeed({
      connect: async () => {
        const c = first;
        first = null;
        if (c && !c.closed) return c;
        return await spec.connect();
      },
      onUsage: () => this.#guard(() => this.#redraw()),
    });
    const waits = new WaitTracker({
      record: (id) => feed.table.get(id),
      wanted: () => this.#opts.alerts,
      looking: (id, rec) => (rec.clients ?? 0) > 0 || this.#attached === rowKey(spec.name, id),
      announce: (_id, rec, kind) => {
        // Another machine's session is named with its host, as `notify watch` names it.
        const named = spec.local ? rec : onHost(rec, spec.name);
        const env = (k: string) => this.#opts.env[k];
        void this.#write(
          terminalNotification(notificationText(named, kind), {
            tmux: insideTmux(env),
            osc: chooseOsc(env),
          }),
        );
      },
    });
    return { spec, feed, conn: { up: true }, connecting: true, waits };
  }

  /** More than one host: rows say which. */
  get #multi(): boolean {
    return this.#hosts.length > 1;
  }

  async run(): Promise<number> {
    let outcome: Outcome;
    try {
      this.#setUp();
      outcome = await this.#ended;
    } finally {
      this.#done = true;
      this.#clock.cancel();
      for (const t of this.#timers) clearTimeout(t);
      for (const h of this.#hosts) {
        h.feed.close();
        h.waits.reset();
      }
      if (this.#attaching) await this.#attaching;
      for (const fn of this.#cleanups.splice(0).reverse()) fn();
      await this.#chain;
      this.#restore();
    }
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.code;
  }

  // -------------------------------------------------------------------------
  // The terminal

  #setUp(): void {
    Deno.stdin.setRaw(true);
    this.#cleanups.push(() => {
      try {
        Deno.stdin.setRaw(false);
      } catch { /* the terminal is gone */ }
    });
    // Whatever happens from here, the terminal is put back.
    const onUnload = () => this.#restore();
    const onError = (e: ErrorEvent) => {
      e.preventDefault();
      this.#end({ code: 1, error: e.error ?? new Error(e.message) });
    };
    const onRejection = (e: PromiseRejectionEvent) => {
      e.preventDefault();
      this.#end({ code: 1, error: e.reason });
    };
    globalThis.addEventListener("unload", onUnload);
    globalThis.addEventListener("error", onError);
    globalThis.addEventListener("unhandledrejection", onRejection);
    this.#cleanups.push(() => {
      globalThis.removeEventListener("error", onError);
      globalThis.removeEventListener("unhandledrejection", onRejection);
    });
    this.#writeSync(ENTER);
    this.#measure();

    const signals: [Deno.Signal, () => void][] = [
      ["SIGTERM", () => this.#end({ code: 1 })],
      ["SIGHUP", () => this.#end({ code: 1 })],
      ["SIGINT", () => this.#end({ code: 0 })],
      ["SIGQUIT", () => this.#end({ code: 1 })],
      ["SIGWINCH", () => this.#guard(() => this.#resized())],
    ];
    for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
    this.#cleanups.push(() => {
      for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    });

    const release = this.#input.take({
      data: (b) => this.#guard(() => this.#onInput(b)),
      end: () => this.#end({ code: 0 }),
    });
    this.#cleanups.push(release);

    // Durations on screen change with time: redraw (only what changed) every second.
    const tick = setInterval(() => this.#clock.request(), 1000);
    this.#cleanups.push(() => clearInterval(tick));

    for (const h of this.#hosts) void this.#follow(h);
    this.#clock.request();
  }

  /** Runs `fn`; an exception ends the program (the terminal restored, the error reported). */
  #guard(fn: () => void): void {
    if (this.#done) return;
    try {
      fn();
    } catch (e) {
      this.#end({ code: 1, error: e });
    }
  }

  #end(o: Outcome): void {
    if (this.#done) return;
    this.#done = true;
    this.#finish(o);
  }

  #restore(): void {
    if (this.#restored) return;
    this.#restored = true;
    this.#writeSync(LEAVE);
    try {
      Deno.stdin.setRaw(false);
    } catch { /* the terminal is gone */ }
  }

  #writeSync(s: string): void {
    const b = this.#enc.encode(s);
    try {
      let off = 0;
      while (off < b.length) off += Deno.stdout.writeSync(b.subarray(off));
    } catch { /* the terminal is gone */ }
  }

  /** Writes in order after what is being written; a failure (the terminal went away) ends. */
  #write(s: string): Promise<void> {
    const b = this.#enc.encode(s);
    this.#chain = this.#chain.then(async () => {
      if (this.#restored) return;
      try {
        let off = 0;
        while (off < b.length) off += await Deno.stdout.write(b.subarray(off));
      } catch (e) {
        this.#end({ code: 1, error: new UserError(`cannot write to the terminal: ${e}`) });
      }
    });
    return this.#chain;
  }

  #measure(): void {
    try {
      const { columns, rows } = Deno.consoleSize();
      if (columns > 0 && rows > 0) {
        this.#cols = Math.min(columns, 1000);
        this.#rows = Math.min(rows, 1000);
      }
    } catch { /* keep the size known */ }
  }

  #resized(): void {
    this.#measure();
    this.#writer.invalidate();
    this.#clock.request();
  }

  // -------------------------------------------------------------------------
  // Drawing

  #views(): HostView[] {
    return this.#hosts.map((h) => ({
      name: h.spec.name,
      records: h.feed.table.records,
      shortLength: h.feed.table.shortLength,
      conn: h.conn,
      connecting: h.connecting,
      usage: h.feed.usage,
      ...(h.spec.local && this.#opts.home ? { home: this.#opts.home } : {}),
    }));
  }

  #state(): WatchState {
    return {
      hosts: this.#views(),
      now: Date.now(),
      color: this.#opts.color,
      showExited: this.#showExited,
      filter: this.#filter,
      selected: this.#selected,
      top: this.#top,
      preview: this.#previewOn
        ? { lines: this.#previewLines, ...(this.#previewNote ? { note: this.#previewNote } : {}) }
        : null,
      message: this.#message,
      prompt: this.#prompt ? { label: this.#prompt.label, text: this.#prompt.text } : null,
      help: this.#help,
    };
  }

  /** Asks for a frame: soon, at most {@linkcode FRAMES_PER_SECOND} a second (the baseline: now). */
  #redraw(): void {
    if (this.#opts.fullRedraw) this.#draw();
    else this.#clock.request();
  }

  #draw(): void {
    if (this.#done || this.#attached) return;
    if (this.#writing) {
      this.#owed = true;
      return;
    }
    const frame = drawWatch(this.#state(), this.#cols, this.#rows);
    this.#top = frame.top;
    this.#pageRows = frame.pageRows;
    const out = this.#writer.frame(frame.canvas, frame.cursor, this.#opts.fullRedraw);
    if (out === "") return;
    this.#writing = true;
    void this.#write(out).then(() => {
      this.#writing = false;
      if (this.#owed) {
        this.#owed = false;
        this.#redraw();
      }
    });
  }

  // -------------------------------------------------------------------------
  // Following the hosts' daemons

  async #follow(h: Followed): Promise<void> {
    const name = h.spec.name;
    try {
      for await (const u of h.feed) {
        if (this.#done) break;
        if (u.kind === "snapshot") {
          h.conn = { up: true };
          h.connecting = false;
          h.waits.reset();
          if (u.reconnected) {
            const to = this.#multi ? `${name}: reconnected` : "reconnected";
            this.#say(
              u.restarted
                ? `${to}: the daemon restarted (sessions as it has them now)`
                : `${to} to the daemon`,
            );
          }
          this.#refreshPreview();
        } else if (u.kind === "event") {
          const ev = u.event;
          h.waits.onEvent(ev);
          const key = rowKey(name, ev.id);
          if (key === this.#pendingSelect && h.feed.table.get(ev.id)) {
            this.#selected = key;
            this.#pendingSelect = null;
          }
          if (key === this.#selected && ev.event !== "attached" && ev.event !== "detached") {
            this.#refreshPreview();
          }
        } else {
          h.connecting = false;
          h.conn = { up: false, reason: u.reason, retryInMs: u.retryInMs, since: Date.now() };
        }
        this.#keepSelection();
        this.#redraw();
      }
    } catch (e) {
      // What retrying cannot mend: another protocol, a missing feature, another user.
      if (!this.#multi) {
        this.#end({ code: 1, error: e });
        return;
      }
      // One host of several: said so; the others go on.
      h.waits.reset();
      h.connecting = false;
      h.conn = {
        up: false,
        reason: (e as Error)?.message ?? String(e),
        retryInMs: 0,
        since: Date.now(),
        gaveUp: true,
      };
      this.#guard(() => this.#redraw());
    }
  }

  /** The sessions listed now. */
  #list(): WatchRow[] {
    return listed({ hosts: this.#views(), showExited: this.#showExited, filter: this.#filter });
  }

  /** Keeps a session selected: the same one while it is listed, else the one now in its place. */
  #keepSelection(): void {
    const list = this.#list();
    const at = list.findIndex((r) => r.key === this.#selected);
    if (at >= 0) {
      this.#selIndex = at;
      return;
    }
    const before = this.#selected;
    if (list.length === 0) {
      this.#selected = null;
      this.#selIndex = 0;
    } else {
      this.#selIndex = Math.min(this.#selIndex, list.length - 1);
      this.#selected = list[this.#selIndex]!.key;
    }
    if (before !== this.#selected) this.#refreshPreview();
  }

  /** The selected session and its host. */
  #selectedRow(): { h: Followed; rec: SessionRecord } | undefined {
    return this.#selected ? this.#find(this.#selected) : undefined;
  }

  /** The session of a row key, and its host. */
  #find(key: string): { h: Followed; rec: SessionRecord } | undefined {
    // A key is the host's name, a newline, the id (which has none).
    const cut = key.lastIndexOf("\n");
    const name = key.slice(0, cut);
    const h = this.#hosts.find((x) => x.spec.name === name);
    const rec = h?.feed.table.get(key.slice(cut + 1));
    return h && rec ? { h, rec } : undefined;
  }

  #move(by: number | "first" | "last"): void {
    const list = this.#list();
    if (list.length === 0) return;
    let i = by === "first" ? 0 : by === "last" ? list.length - 1 : this.#selIndex + by;
    i = Math.max(0, Math.min(list.length - 1, i));
    this.#selIndex = i;
    if (this.#selected !== list[i]!.key) {
      this.#selected = list[i]!.key;
      this.#refreshPreview();
    }
  }

  // -------------------------------------------------------------------------
  // Keys

  #onInput(bytes: Uint8Array): void {
    for (const key of this.#keys.push(bytes)) {
      if (this.#done) return;
      this.#onKey(key);
    }
    this.#redraw();
  }

  /** What each key does outside prompts: keys by name in <>, characters as themselves. */
  readonly #bindings: Record<string, () => void> = (() => {
    const up = () => this.#move(-1);
    const down = () => this.#move(1);
    const first = () => this.#move("first");
    const last = () => this.#move("last");
    const attach = () => this.#attach();
    const quit = () => this.#end({ code: 0 });
    return {
      "<up>": up,
      "<ctrl-p>": up,
      "<down>": down,
      "<ctrl-n>": down,
      j: down,
      "<pageup>": () => this.#move(-this.#pageRows),
      "<pagedown>": () => this.#move(this.#pageRows),
      "<home>": first,
      g: first,
      "<end>": last,
      G: last,
      "<enter>": attach,
      a: attach,
      q: quit,
      "<ctrl-c>": quit,
      "<escape>": () => this.#setFilter(""),
      p: () => this.#togglePreview(),
      s: () => this.#send(),
      y: () => this.#answer(true),
      n: () => this.#answer(false),
      k: () => this.#kill(),
      N: () => this.#new(),
      r: () => this.#resume(),
      "/": () => this.#filterPrompt(),
      e: () => {
        this.#showExited = !this.#showExited;
        this.#keepSelection();
      },
      "?": () => (this.#help = true),
    };
  })();

  #onKey(key: Key): void {
    if (this.#help) {
      this.#help = false;
      return;
    }
    if (this.#prompt) {
      this.#promptKey(this.#prompt, key);
      return;
    }
    this.#message = null;
    this.#bindings[key.name === "char" ? key.ch! : `<${key.name}>`]?.();
  }

  #togglePreview(): void {
    this.#previewOn = !this.#previewOn;
    if (this.#previewOn) {
      this.#previewFor = null;
      this.#refreshPreview();
    }
  }

  #promptKey(p: PromptState, key: Key): void {
    if (p.single) {
      this.#prompt = null;
      if (key.name === "char") p.submit(key.ch!);
      else p.cancel?.();
      return;
    }
    switch (key.name) {
      case "enter":
        this.#prompt = null;
        p.submit(p.text);
        return;
      case "escape":
      case "ctrl-c":
        this.#prompt = null;
        p.cancel?.();
        return;
      case "backspace":
        p.text = [...p.text].slice(0, -1).join("");
        break;
      case "ctrl-u":
        p.text = "";
        break;
      case "ctrl-w":
        p.text = p.text.replace(/\S*\s*$/, "");
        break;
      case "char":
        p.text += key.ch!;
        break;
      case "tab":
        p.text += " ";
        break;
      default:
        return;
    }
    p.change?.(p.text);
  }

  // -------------------------------------------------------------------------
  // Actions

  #say(text: string, error = false): void {
    this.#message = { text: printable(text), error };
    this.#redraw();
  }

  #fail(what: string, e: unknown): void {
    this.#say(`${what}: ${(e as Error)?.message ?? String(e)}`, true);
  }

  /** The connection to a host for a request, or null (said so) while there is none. */
  #client(h: Followed): Client | null {
    const c = h.feed.client;
    if (!c || c.closed) {
      this.#say(
        this.#multi
          ? `${h.spec.name} is unreachable (${
            h.conn.up || !h.conn.gaveUp ? "reconnecting" : "given up"
          })`
          : "not connected to the daemon (reconnecting)",
        true,
      );
      return null;
    }
    return c;
  }

  /** How messages name a session: `01M7ZA1Q (api)`; with several hosts `box/01M7ZA1Q (api)`. */
  #label(h: Followed, rec: SessionRecord): string {
    const label = viewSession(rec, { now: Date.now(), shortLength: h.feed.table.shortLength })
      .label;
    return this.#multi ? `${printable(h.spec.name)}/${label}` : label;
  }

  /** Runs `fn` after `ms` unless the program ended. */
  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#guard(fn);
    }, ms);
    this.#timers.add(t);
  }

  #attach(): void {
    const row = this.#selectedRow();
    if (!row || this.#attached) return;
    if (isExited(row.rec)) {
      this.#say(`${this.#label(row.h, row.rec)} has exited; r resumes it`);
      return;
    }
    this.#attached = rowKey(row.h.spec.name, row.rec.id);
    this.#attaching = this.#attachTo(row.h, row.rec).finally(() => (this.#attaching = null));
  }

  async #attachTo(h: Followed, rec: SessionRecord): Promise<void> {
    const label = this.#label(h, rec);
    let client: Client | null = null;
    let message: { text: string; error: boolean } | null = null;
    try {
      // The frame being written goes out first.
      await this.#chain;
      // A connection of its own (to the session's host): attach pushes hold up
      // their connection's reader.
      client = await h.spec.connect();
      const r = await attachTerminal(client, rec.id, { nested: true, input: this.#input });
      message = { text: r.message, error: r.end === "lost" };
      if (r.end === "terminal_closed") this.#end({ code: 0 });
    } catch (e) {
      message = { text: `cannot attach to ${label}: ${(e as Error)?.message ?? e}`, error: true };
    } finally {
      client?.close();
      this.#attached = null;
    }
    if (this.#done) return;
    await this.#write(REENTER);
    this.#writer.invalidate();
    this.#writer.cursorHidden();
    this.#message = { text: printable(message.text), error: message.error };
    this.#keepSelection();
    this.#refreshPreview();
    this.#redraw();
  }

  #send(): void {
    const row = this.#selectedRow();
    if (!row) return;
    const { h, rec } = row;
    const label = this.#label(h, rec);
    if (isExited(rec)) {
      this.#say(`${label} has exited; r resumes it`);
      return;
    }
    this.#prompt = {
      label: `send to ${label}: `,
      text: "",
      submit: (text) => {
        if (text.trim() === "") {
          this.#say("nothing sent");
          return;
        }
        const client = this.#client(h);
        if (!client) return;
        this.#say(`sending to ${label}…`);
        client.request("send", { session: rec.id, text, enter: true }, (push) => {
          if (push.type === "progress") this.#say(`${label}: ${push.message}`);
        }).then(
          (r) => {
            const how = r.delivery === "submitted"
              ? "Claude took it"
              : r.delivery === "accepted"
              ? "accepted"
              : "typed";
            this.#say(`sent to ${label}: ${how}${r.queued ? " (it was queued)" : ""}`);
          },
          (e) => this.#fail(`sending to ${label} failed`, e),
        );
      },
      cancel: () => this.#say("nothing sent"),
    };
  }

  #answer(allow: boolean): void {
    const row = this.#selectedRow();
    if (!row) return;
    const { h, rec } = row;
    const label = this.#label(h, rec);
    if (rec.status !== "waiting_permission") {
      this.#say(`${label} is not waiting for a permission`);
      return;
    }
    const w = rec.waitingFor;
    if (w && w.kind !== "permission") {
      this.#say(`${label} waits for ${describeWait(w)}: attach (Enter) to answer it`);
      return;
    }
    const client = this.#client(h);
    if (!client) return;
    const what = describeWait(w);
    const since = rec.statusSince;
    const verb = allow ? "allowed" : "denied";
    this.#say(`${allow ? "allowing" : "denying"} ${label}: ${what}…`);
    client.request("send", { session: rec.id, keys: [allow ? "Enter" : "Esc"] }).then(
      () => {
        this.#say(`${verb} ${label}: ${what}`);
        // Claude drops keys that come in a dialog's first moments: say so when it did.
        this.#later(ANSWER_CHECK_MS, () => {
          const now = h.feed.table.get(rec.id);
          if (now?.status === "waiting_permission" && now.statusSince === since) {
            this.#say(
              `${label}: not ${verb} yet (Claude ignores keys in a dialog's first moments): ` +
                `press ${allow ? "y" : "n"} again`,
              true,
            );
          }
        });
      },
      (e) => this.#fail(`${allow ? "allowing" : "denying"} ${label} failed`, e),
    );
  }

  #kill(): void {
    const row = this.#selectedRow();
    if (!row) return;
    const { h, rec } = row;
    const label = this.#label(h, rec);
    if (isExited(rec)) {
      this.#say(`${label} has already exited`);
      return;
    }
    this.#prompt = {
      label: `kill ${label}? (y/N) `,
      text: "",
      single: true,
      submit: (answer) => {
        if (answer !== "y" && answer !== "Y") {
          this.#say("not killed");
          return;
        }
        const client = this.#client(h);
        if (!client) return;
        this.#say(`killing ${label}…`);
        client.request("kill", { session: rec.id }).then(
          (r) => this.#say(`${label}: ${exitSummary(r.session)}`),
          (e) => this.#fail(`killing ${label} failed`, e),
        );
      },
      cancel: () => this.#say("not killed"),
    };
  }

  /** `N`: with several hosts, asks which (the selected row's by default), then the directory. */
  #new(): void {
    if (!this.#multi) {
      this.#newOn(this.#hosts[0]!);
      return;
    }
    const names = this.#hosts.map((h) => h.spec.name);
    this.#prompt = {
      label: `new session on (${names.join(", ")}): `,
      text: this.#selectedRow()?.h.spec.name ?? names[0]!,
      submit: (typed) => {
        const name = typed.trim();
        const h = this.#hosts.find((x) => x.spec.name === name);
        if (!h) {
          this.#say(
            name === "" ? "nothing started" : `nothing started: "${name}" is not a host here`,
            name !== "",
          );
          return;
        }
        this.#newOn(h);
      },
      cancel: () => this.#say("nothing started"),
    };
  }

  #newOn(h: Followed): void {
    const local = h.spec.local;
    this.#prompt = {
      label: this.#multi || !local ? `new session on ${h.spec.name} in: ` : "new session in: ",
      // There: its home (this machine's directory means nothing there).
      text: local ? this.#opts.cwd : "~",
      submit: (typed) => {
        const dir = typed.trim();
        if (dir === "") {
          this.#say("nothing started");
          return;
        }
        void this.#startIn(h, dir);
      },
      cancel: () => this.#say("nothing started"),
    };
  }

  async #startIn(h: Followed, typed: string): Promise<void> {
    const local = h.spec.local;
    const home = local ? this.#opts.home : undefined;
    let cwd: string;
    try {
      if (local) {
        let dir = typed;
        if (home && (dir === "~" || dir.startsWith("~/"))) dir = home + dir.slice(1);
        if (!dir.startsWith("/")) dir = `${this.#opts.cwd}/${dir}`;
        cwd = await this.#opts.checkDir(dir);
      } else {
        // A path there, checked by its daemon.
        cwd = this.#opts.checkRemoteDir(typed, h.spec.name);
      }
    } catch (e) {
      this.#fail("nothing started", e);
      return;
    }
    const client = this.#client(h);
    if (!client) return;
    const where = this.#multi || !local ? ` on ${h.spec.name}` : "";
    this.#say(`starting a session${where} in ${cwd}…`);
    try {
      // Here, the session gets watch's environment; there, that daemon's own.
      const { session, notices } = await client.request("new", {
        cwd,
        ...(local ? { env: this.#opts.env } : {}),
        cols: this.#cols,
        rows: this.#rows,
      });
      const key = rowKey(h.spec.name, session.id);
      if (h.feed.table.get(session.id)) this.#selected = key;
      else this.#pendingSelect = key;
      this.#keepSelection();
      const note = notices && notices.length > 0 ? ` — note: ${notices.join("; ")}` : "";
      const dir = viewSession(session, { now: Date.now(), ...(home ? { home } : {}) }).dir;
      this.#say(`started ${this.#label(h, session)} in ${dir}${note}`);
    } catch (e) {
      this.#fail("starting a session failed", e);
    }
  }

  #resume(): void {
    const row = this.#selectedRow();
    if (!row) return;
    const { h, rec } = row;
    const label = this.#label(h, rec);
    if (LIVE_STATUSES.includes(rec.status)) {
      this.#say(`${label} is ${rec.status}: nothing to resume`);
      return;
    }
    const client = this.#client(h);
    if (!client) return;
    this.#say(`resuming ${label}…`);
    // This environment stands in for a lost saved one; not from another machine.
    const params = h.spec.local ? { session: rec.id, env: this.#opts.env } : { session: rec.id };
    client.request("resume", params).then(
      (r) => this.#say(`resumed ${label}: ${printable(r.session.status)}`),
      (e) => this.#fail(`resuming ${label} failed`, e),
    );
  }

  #filterPrompt(): void {
    this.#prompt = {
      label: "filter: ",
      text: this.#filter,
      change: (text) => this.#setFilter(text),
      submit: (text) => this.#setFilter(text.trim()),
      cancel: () => this.#setFilter(""),
    };
  }

  #setFilter(text: string): void {
    this.#filter = text;
    this.#keepSelection();
  }

  // -------------------------------------------------------------------------
  // The preview pane: the selected session's screen (`peek`), fetched again
  // when the session's output, status or record changes (its `activity`
  // events come at most once a second), one request at a time.

  #refreshPreview(): void {
    if (!this.#previewOn || this.#done) return;
    const key = this.#selected;
    if (this.#previewFor !== key) {
      this.#previewFor = key;
      this.#previewLines = null;
      this.#previewNote = undefined;
    }
    if (!key) return;
    if (this.#previewBusy) {
      this.#previewAgain = true;
      return;
    }
    const row = this.#find(key);
    const client = row?.h.feed.client;
    if (!row || !client || client.closed) return;
    this.#previewBusy = true;
    client.request("peek", { session: row.rec.id, ansi: this.#opts.color }).then(
      (r) => {
        if (this.#previewFor !== key) return;
        const lines = r.text.split("\n");
        while (lines.length > 0 && lines.at(-1)!.replace(/\x1b\[[0-9;]*m/g, "").trim() === "") {
          lines.pop();
        }
        this.#previewLines = lines;
        this.#previewNote = undefined;
      },
      (e) => {
        if (this.#previewFor === key) this.#previewNote = `no screen: ${(e as Error).message}`;
      },
    ).finally(() => {
      this.#previewBusy = false;
      if (this.#previewAgain) {
        this.#previewAgain = false;
        this.#refreshPreview();
      }
      this.#redraw();
    });
  }
}
