/**
 * `watch`: the full-screen dashboard. It follows the daemon's sessions
 * through the event stream (a {@linkcode SessionFeed}: a snapshot, then
 * every event; no polling), draws at most {@linkcode FRAMES_PER_SECOND}
 * frames a second writing only the cells that changed, and acts on the
 * selected session: attach (and come back), send a line, allow or deny a
 * permission, kill, resume, start a new one. The terminal is restored on
 * every way out: `q`, Ctrl-C, SIGTERM/SIGHUP/SIGINT, the terminal closing,
 * an error, a crash.
 *
 * @module
 */

import type { Client } from "../client/client.ts";
import { SessionFeed } from "../client/feed.ts";
import type { SessionRecord } from "../protocol.ts";
import { describeWait, exitSummary, viewSession } from "../session_view.ts";
import { printable } from "../printable.ts";
import { UserError } from "../errors.ts";
import { attachTerminal } from "./attach.ts";
import { TerminalInput } from "./input.ts";
import { type Key, KeyReader } from "./_keys.ts";
import { FrameClock, FrameWriter } from "./canvas.ts";
import { alertSequence, alertText, WaitAlerts } from "./_alerts.ts";
import { type ConnState, drawWatch, isExited, listed, type WatchState } from "./watch_view.ts";

/** Most frames drawn in a second. */
export const FRAMES_PER_SECOND = 10;

/** How long after allowing or denying a permission the status should have moved. */
export const ANSWER_CHECK_MS = 2500;

/** Statuses of a session whose program runs (nothing to resume). */
const RUNNING_STATUSES = new Set(["starting", "running", "waiting_input", "waiting_permission"]);

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J";
/** Puts back what ENTER (and a frame cut short) changed. */
const LEAVE = "\x1b[?2026l\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";
/** After an attachment (which resets the terminal's modes): this program's modes again. */
const REENTER = "\x1b[?25l\x1b[?7l";

/** What {@linkcode runWatch} needs. */
export interface WatchOptions {
  /** The first connection (the caller made it, starting a daemon if needed). */
  first: Client;
  /** Opens another connection: reconnecting (no daemon is started then), attaching. */
  connect: () => Promise<Client>;
  color: boolean;
  /** Ring the bell and show terminal notifications when a session starts waiting. */
  alerts: boolean;
  /** The naive baseline (for bench/watch.ts): a full redraw per change, none coalesced. */
  fullRedraw: boolean;
  /** Environment for `new` and `resume` (and how notifications are written: TERM, TMUX). */
  env: Record<string, string>;
  /** The directory `N` offers. */
  cwd: string;
  home?: string;
  /** Checks a directory typed for `N`; returns it absolute and real. */
  checkDir: (dir: string) => Promise<string>;
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
  readonly #feed: SessionFeed;
  readonly #input = TerminalInput.shared();
  readonly #keys = new KeyReader();
  readonly #writer = new FrameWriter();
  readonly #clock: FrameClock;
  readonly #alerts: WaitAlerts;
  readonly #enc = new TextEncoder();
  #cols = 80;
  #rows = 24;
  // What the frame shows.
  #showExited = false;
  #filter = "";
  #selected: string | null = null;
  #selIndex = 0;
  #top = 0;
  #pageRows = 1;
  #conn: ConnState = { up: true };
  #connecting = true;
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
  /** A session `N` started, to select once it is listed. */
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
    let first: Client | null = opts.first;
    this.#feed = new SessionFeed({
      connect: async () => {
        const c = first;
        first = null;
        if (c && !c.closed) return c;
        return await opts.connect();
      },
    });
    this.#clock = new FrameClock(1000 / FRAMES_PER_SECOND, () => this.#guard(() => this.#draw()));
    this.#alerts = new WaitAlerts({
      record: (id) => this.#feed.table.get(id),
      attachedHere: (id) => this.#attached === id,
      alert: (rec, kind) => {
        if (!this.#opts.alerts) return;
        const { title, body } = alertText(rec, kind);
        void this.#write(alertSequence(title, body, (k) => this.#opts.env[k]));
      },
    });
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
      this.#feed.close();
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

    void this.#follow();
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

  #state(): WatchState {
    return {
      records: this.#feed.table.records,
      shortLength: this.#feed.table.shortLength,
      now: Date.now(),
      home: this.#opts.home,
      color: this.#opts.color,
      showExited: this.#showExited,
      filter: this.#filter,
      selected: this.#selected,
      top: this.#top,
      preview: this.#previewOn
        ? { lines: this.#previewLines, ...(this.#previewNote ? { note: this.#previewNote } : {}) }
        : null,
      conn: this.#conn,
      message: this.#message,
      prompt: this.#prompt ? { label: this.#prompt.label, text: this.#prompt.text } : null,
      help: this.#help,
      connecting: this.#connecting,
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
  // Following the daemon

  async #follow(): Promise<void> {
    try {
      for await (const u of this.#feed) {
        if (this.#done) break;
        if (u.kind === "snapshot") {
          this.#conn = { up: true };
          this.#connecting = false;
          this.#alerts.reset();
          if (u.reconnected) {
            this.#say(
              u.restarted
                ? "reconnected: the daemon restarted (sessions as it has them now)"
                : "reconnected to the daemon",
            );
          }
          this.#refreshPreview();
        } else if (u.kind === "event") {
          const ev = u.event;
          this.#alerts.onEvent(ev);
          if (ev.id === this.#pendingSelect && this.#feed.table.get(ev.id)) {
            this.#selected = ev.id;
            this.#pendingSelect = null;
          }
          if (ev.id === this.#selected && ev.event !== "attached" && ev.event !== "detached") {
            this.#refreshPreview();
          }
        } else {
          this.#conn = { up: false, reason: u.reason, retryInMs: u.retryInMs, since: Date.now() };
        }
        this.#keepSelection();
        this.#redraw();
      }
    } catch (e) {
      // What retrying cannot mend: another protocol, a missing feature, another user.
      this.#end({ code: 1, error: e });
    }
  }

  /** The sessions listed now. */
  #list(): SessionRecord[] {
    return listed({
      records: this.#feed.table.records,
      showExited: this.#showExited,
      filter: this.#filter,
      home: this.#opts.home,
    });
  }

  /** Keeps a session selected: the same one while it is listed, else the one now in its place. */
  #keepSelection(): void {
    const list = this.#list();
    const at = list.findIndex((r) => r.id === this.#selected);
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
      this.#selected = list[this.#selIndex]!.id;
    }
    if (before !== this.#selected) this.#refreshPreview();
  }

  #selectedRecord(): SessionRecord | undefined {
    return this.#selected ? this.#feed.table.get(this.#selected) : undefined;
  }

  #move(by: number | "first" | "last"): void {
    const list = this.#list();
    if (list.length === 0) return;
    let i = by === "first" ? 0 : by === "last" ? list.length - 1 : this.#selIndex + by;
    i = Math.max(0, Math.min(list.length - 1, i));
    this.#selIndex = i;
    if (this.#selected !== list[i]!.id) {
      this.#selected = list[i]!.id;
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

  /** The connection to use for a request, or null (said so) while there is none. */
  #client(): Client | null {
    const c = this.#feed.client;
    if (!c || c.closed) {
      this.#say("not connected to the daemon (reconnecting)", true);
      return null;
    }
    return c;
  }

  #label(rec: SessionRecord): string {
    return viewSession(rec, { now: Date.now(), shortLength: this.#feed.table.shortLength }).label;
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
    const rec = this.#selectedRecord();
    if (!rec || this.#attached) return;
    if (isExited(rec)) {
      this.#say(`${this.#label(rec)} has exited; r resumes it`);
      return;
    }
    this.#attached = rec.id;
    this.#attaching = this.#attachTo(rec).finally(() => (this.#attaching = null));
  }

  async #attachTo(rec: SessionRecord): Promise<void> {
    const label = this.#label(rec);
    let client: Client | null = null;
    let message: { text: string; error: boolean } | null = null;
    try {
      // The frame being written goes out first.
      await this.#chain;
      // A connection of its own: attach pushes hold up their connection's reader.
      client = await this.#opts.connect();
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
    const rec = this.#selectedRecord();
    if (!rec) return;
    const label = this.#label(rec);
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
        const client = this.#client();
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
    const rec = this.#selectedRecord();
    if (!rec) return;
    const label = this.#label(rec);
    if (rec.status !== "waiting_permission") {
      this.#say(`${label} is not waiting for a permission`);
      return;
    }
    const w = rec.waitingFor;
    if (w && w.kind !== "permission") {
      this.#say(`${label} waits for ${describeWait(w)}: attach (Enter) to answer it`);
      return;
    }
    const client = this.#client();
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
          const now = this.#feed.table.get(rec.id);
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
    const rec = this.#selectedRecord();
    if (!rec) return;
    const label = this.#label(rec);
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
        const client = this.#client();
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

  #new(): void {
    this.#prompt = {
      label: "new session in: ",
      text: this.#opts.cwd,
      submit: (typed) => {
        const dir = typed.trim();
        if (dir === "") {
          this.#say("nothing started");
          return;
        }
        void this.#startIn(dir);
      },
      cancel: () => this.#say("nothing started"),
    };
  }

  async #startIn(typed: string): Promise<void> {
    const home = this.#opts.home;
    let dir = typed;
    if (home && (dir === "~" || dir.startsWith("~/"))) dir = home + dir.slice(1);
    if (!dir.startsWith("/")) dir = `${this.#opts.cwd}/${dir}`;
    let cwd: string;
    try {
      cwd = await this.#opts.checkDir(dir);
    } catch (e) {
      this.#fail("nothing started", e);
      return;
    }
    const client = this.#client();
    if (!client) return;
    this.#say(`starting a session in ${cwd}…`);
    try {
      const { session, notices } = await client.request("new", {
        cwd,
        env: this.#opts.env,
        cols: this.#cols,
        rows: this.#rows,
      });
      if (this.#feed.table.get(session.id)) this.#selected = session.id;
      else this.#pendingSelect = session.id;
      this.#keepSelection();
      const note = notices && notices.length > 0 ? ` — note: ${notices.join("; ")}` : "";
      this.#say(`started ${this.#label(session)} in ${
        viewSession(session, {
          now: Date.now(),
          home,
        }).dir
      }${note}`);
    } catch (e) {
      this.#fail("starting a session failed", e);
    }
  }

  #resume(): void {
    const rec = this.#selectedRecord();
    if (!rec) return;
    const label = this.#label(rec);
    if (RUNNING_STATUSES.has(rec.status)) {
      this.#say(`${label} is ${rec.status}: nothing to resume`);
      return;
    }
    const client = this.#client();
    if (!client) return;
    this.#say(`resuming ${label}…`);
    client.request("resume", { session: rec.id, env: this.#opts.env }).then(
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
    const id = this.#selected;
    if (this.#previewFor !== id) {
      this.#previewFor = id;
      this.#previewLines = null;
      this.#previewNote = undefined;
    }
    if (!id) return;
    if (this.#previewBusy) {
      this.#previewAgain = true;
      return;
    }
    const client = this.#feed.client;
    if (!client || client.closed) return;
    this.#previewBusy = true;
    client.request("peek", { session: id, ansi: this.#opts.color }).then(
      (r) => {
        if (this.#previewFor !== id) return;
        const lines = r.text.split("\n");
        while (lines.length > 0 && lines.at(-1)!.replace(/\x1b\[[0-9;]*m/g, "").trim() === "") {
          lines.pop();
        }
        this.#previewLines = lines;
        this.#previewNote = undefined;
      },
      (e) => {
        if (this.#previewFor === id) this.#previewNote = `no screen: ${(e as Error).message}`;
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
