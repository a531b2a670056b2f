import assert from "node:assert/strict";
import { Emulator, PIECE_BYTES } from "./_emulator.ts";

const enc = new TextEncoder();

/** Feeds `chunks` and resolves once they are parsed. */
function feed(em: Emulator, chunks: Uint8Array[]): Promise<void> {
  for (const c of chunks) em.write(c);
  return new Promise((r) => em.whenParsed(r));
}

/** A deterministic pseudo-random generator (tests must be reproducible). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Terminal output of every kind that moves lines about, at random. */
function randomOutput(rand: () => number, pieces: number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const n = (max: number) => 1 + Math.floor(rand() * max);
  const words = ["alpha", "beta", "漢字", "e\u0301t\u00e9", "🙂ok", "tab\tbed", "end  ", "x"];
  let out = "";
  for (let i = 0; i < pieces; i++) {
    const r = rand();
    if (r < 0.35) out += `${pick(words)} `.repeat(n(30)) + pick(["\r\n", "\n", "\r\n\r\n", ""]);
    else if (r < 0.45) out += pick(["\x1b[31m", "\x1b[1;4m", "\x1b[38;5;200m", "\x1b[48;2;1;2;3m"]);
    else if (r < 0.5) out += "\x1b[0m";
    else if (r < 0.55) out += `\x1b[${n(30)};${n(50)}H`;
    else if (r < 0.6) out += pick(["\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[J", "\x1b[1J", "\x1b[2J"]);
    else if (r < 0.64) out += pick(["\x1bD", "\x1bM", "\x1bE"]);
    // Saved and restored on the same line (where xterm.js restores a cursor
    // saved lines ago depends on whether its scrollback was full).
    else if (r < 0.67) out += `\x1b7${pick(words)}\x1b[${n(9)}A${pick(words)}\x1b8`;
    else if (r < 0.7) out += pick([`\x1b[${n(5)};${n(10) + 10}r`, "\x1b[r"]);
    else if (r < 0.73) out += pick(["\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h", "\x1b[?47l"]);
    // (With the cursor saved after: where xterm.js restores one saved before
    // depends on how much scrollback there was.)
    else if (r < 0.74) out += "\x1b[3J\x1b7";
    else if (r < 0.745) out += "\x1bc";
    else out += Array.from({ length: n(60) }, (_, k) => `line ${i}.${k}\r\n`).join("");
  }
  return out;
}

/** Splits bytes at random places (through characters and escape sequences). */
function randomChunks(rand: () => number, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const len = 1 + Math.floor(rand() * (rand() < 0.2 ? 5000 : 300));
    out.push(bytes.slice(at, at + len));
    at += len;
  }
  return out;
}

/** Everything a client or `peek` can see of an emulator. */
function observe(em: Emulator, scrollback: number): Record<string, string> {
  const rows = em.term.rows;
  const seen: Record<string, string> = {
    snapshot: em.snapshot(),
    cursor: `${em.term.buffer.active.cursorX},${em.term.buffer.active.cursorY}`,
    active: em.term.buffer.active.type,
  };
  // As many lines as both keep: the scrollback (the last screen the
  // program showed puts its alternate screen among them: a screenful less).
  for (const lines of [null, 1, 7, rows + 3, scrollback - rows, scrollback]) {
    for (const ansi of [false, true]) {
      seen[`peek ${lines} ${ansi}`] = em.peek(ansi, lines, false);
      if (lines === null || lines <= scrollback - rows) {
        seen[`peek ${lines} ${ansi} final`] = em.peek(ansi, lines, true);
      }
    }
  }
  return seen;
}

Deno.test("emulator: old scrollback kept as text reads back as the emulator's own would", async () => {
  const scrollback = 300;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rand = rng(seed);
    const size = { cols: 20 + Math.floor(rand() * 60), rows: 5 + Math.floor(rand() * 20) };
    // The reference keeps all its scrollback itself, and never reaches its limit.
    const ref = new Emulator({ ...size, scrollback: 100_000, hotLines: 100_000 });
    // Hot lines enough for the height to grow by 19 (a taller terminal shows
    // more of the scrollback).
    const em = new Emulator({ ...size, scrollback, hotLines: 20 });
    let kept = 0;
    try {
      for (let round = 0; round < 4; round++) {
        const chunks = randomChunks(rand, enc.encode(randomOutput(rand, 120)));
        // Old lines are moved out at some points (as when output pauses), not at others.
        for (const c of chunks) {
          ref.write(c);
          em.write(c);
          if (rand() < 0.1) em.whenParsed(() => em.compact());
        }
        await feed(ref, []);
        await feed(em, []);
        kept = Math.max(kept, em.coldLines);
        assert.deepEqual(observe(em, scrollback), observe(ref, scrollback), `seed ${seed}`);
        // Terminal height changes move lines between the screen and the scrollback.
        const rows = 5 + Math.floor(rand() * 20);
        ref.resize(size.cols, rows);
        em.resize(size.cols, rows);
        await feed(ref, []);
        await feed(em, []);
        assert.deepEqual(observe(em, scrollback), observe(ref, scrollback), `seed ${seed}`);
      }
      assert.ok(kept > 0, `seed ${seed}: lines were kept as text`);
    } finally {
      ref.dispose();
      em.dispose();
    }
  }
});

Deno.test("emulator: once output pauses, old scrollback leaves the emulator", async () => {
  let compacted = () => {};
  const done = new Promise<void>((r) => (compacted = r));
  const em = new Emulator({
    cols: 80,
    rows: 24,
    scrollback: 1000,
    hotLines: 100,
    onCompact: () => compacted(),
  });
  try {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}\r\n`).join("");
    // One big write (parsed in pieces).
    await feed(em, [enc.encode(lines)]);
    const before = em.peek(false, 2000, false);
    await done;
    assert.equal(em.term.buffer.normal.baseY, 100);
    assert.equal(em.coldLines, 900);
    assert.equal(em.peek(false, 2000, false), before);
    const all = em.peek(false, 2000, false).split("\n");
    assert.equal(all.length, 1000 + 23, "the scrollback and the screen above the cursor");
    assert.equal(all[0], "line 3977");
    assert.equal(all.at(-1), "line 4999");
    // xterm.js's parse buffer grows to the largest write it gets: pieces keep it small.
    const parseBuffer = (em.term as unknown as {
      _core: { _inputHandler: { _parseBuffer: Uint32Array } };
    })._core._inputHandler._parseBuffer;
    assert.ok(parseBuffer.length <= Math.max(4096, PIECE_BYTES), String(parseBuffer.length));
  } finally {
    em.dispose();
  }
});

Deno.test("emulator: a reset or erasing the saved lines drops the old scrollback too", async () => {
  for (const erase of ["\x1b[3J", "\x1b[?3J", "\x1bc"]) {
    const em = new Emulator({ cols: 40, rows: 5, scrollback: 100, hotLines: 10 });
    try {
      const lines = Array.from({ length: 60 }, (_, i) => `line ${i}\r\n`).join("");
      await feed(em, [enc.encode(lines)]);
      em.compact();
      assert.ok(em.coldLines > 0);
      await feed(em, [enc.encode(erase + "after\r\n")]);
      assert.equal(em.coldLines, 0, JSON.stringify(erase));
      // What is left is on the screen.
      assert.ok(em.peek(false, 100, false).split("\n").length <= 5, JSON.stringify(erase));
    } finally {
      em.dispose();
    }
  }
  // On the alternate screen, erasing its (absent) scrollback keeps the normal one's.
  const em = new Emulator({ cols: 40, rows: 5, scrollback: 100, hotLines: 10 });
  try {
    await feed(em, [enc.encode(Array.from({ length: 60 }, (_, i) => `l${i}\r\n`).join(""))]);
    em.compact();
    const cold = em.coldLines;
    assert.ok(cold > 0);
    await feed(em, [enc.encode("\x1b[?1049h\x1b[3J\x1b[?1049l")]);
    assert.equal(em.coldLines, cold);
  } finally {
    em.dispose();
  }
});

Deno.test("emulator: old lines keep their width when the terminal gets narrower", async () => {
  const em = new Emulator({ cols: 40, rows: 5, scrollback: 100, hotLines: 5 });
  try {
    const long = "x".repeat(30);
    await feed(em, [enc.encode(Array.from({ length: 30 }, () => `${long}\r\n`).join(""))]);
    em.compact();
    em.resize(10, 5);
    await feed(em, []);
    const lines = em.peek(false, 200, false).split("\n");
    // Text lines as they were; the hot ones and the screen rewrapped at 10.
    assert.equal(lines[0], long);
    assert.equal(lines.at(-1), "x".repeat(10));
  } finally {
    em.dispose();
  }
});

Deno.test("emulator: without the xterm.js internals it needs, it keeps its scrollback itself", async () => {
  const warnings: string[] = [];
  const em = new Emulator({
    cols: 40,
    rows: 5,
    scrollback: 100,
    hotLines: 10,
    warn: (m) => warnings.push(m),
    internals: () => null,
  });
  try {
    await feed(em, [enc.encode(Array.from({ length: 60 }, (_, i) => `l${i}\r\n`).join(""))]);
    em.compact();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /xterm\.js internals/);
    assert.equal(em.coldLines, 0);
    assert.equal(em.term.buffer.normal.baseY, 56, "all scrollback in the emulator");
    assert.equal(em.peek(false, 100, false).split("\n")[0], "l0");
  } finally {
    em.dispose();
  }
});
