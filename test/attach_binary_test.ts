/**
 * End-to-end, on the wire: the binary attach stream (`attach.binary`) beside
 * the JSON one an older client still gets, on a real daemon.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BINARY_MESSAGE, RawClient, TestHome } from "./_harness.ts";
import {
  BINARY_INPUT,
  BINARY_OUTPUT,
  encodeBinaryFrame,
  FEATURES,
  MAX_MESSAGE_BYTES,
} from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: unknown) => new TextDecoder().decode(b as Uint8Array);

/** Collects what arrives for attachment `sub` until `needle` shows, as text. */
async function outputUntil(c: RawClient, sub: number, binary: boolean, needle: string) {
  let seen = "";
  while (!seen.includes(needle)) {
    const m = await c.next(
      (m) => m.sub === sub && (binary ? m.type === BINARY_MESSAGE : m.type === "output"),
      10_000,
    );
    seen += binary ? text(m.data) : Buffer.from(m.data as string, "base64").toString();
  }
  return seen;
}

Deno.test(
  "attach with binary: output and input as binary frames; without: JSON pushes",
  opts,
  async () => {
    const h = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", "stty -echo; echo READY; exec cat"] },
    });
    const daemon = await h.startDaemon();
    const bin = await RawClient.connect(h.socket);
    const json = await RawClient.connect(h.socket);
    try {
      await h.ok(["new", h.dir, "--name", "b"]);
      const hello = await bin.next((m) => m.type === "hello");
      assert.ok((hello.features as string[]).includes(FEATURES.attachBinary));
      await json.next((m) => m.type === "hello");

      // Bad input: a binary attachment needs an id a frame can carry.
      for (const id of ["seven", 1.5, -1, 2 ** 32]) {
        const r = await bin.request("attach", { session: "b", binary: true }, id);
        assert.equal(r.ok, false, `id ${id}`);
        assert.match((r.error as { message: string }).message, /integer from 0 to 4294967295/);
      }

      const a = await bin.request("attach", { session: "b", binary: true }, 7);
      assert.equal(a.ok, true);
      await bin.next((m) => m.type === "screen" && m.sub === 7);
      const j = await json.request("attach", { session: "b" }, 8);
      assert.equal(j.ok, true);
      await json.next((m) => m.type === "screen" && m.sub === 8);

      // Input as a binary frame: no reply; the output comes to both, each its way.
      await bin.write(encodeBinaryFrame(BINARY_INPUT, 7, enc("ping\n")));
      assert.match(await outputUntil(bin, 7, true, "ping"), /ping/);
      assert.match(await outputUntil(json, 8, false, "ping"), /ping/);
      assert.ok(!bin.pending((m) => m.type === "output"), "no JSON output to a binary client");
      assert.ok(!json.pending((m) => m.type === BINARY_MESSAGE), "no frame to a JSON client");
      assert.ok(!bin.pending((m) => m.type === "reply"), "a binary input frame is not answered");

      // Frames the daemon cannot use are ignored and logged; the connection stays.
      await bin.write(encodeBinaryFrame(BINARY_INPUT, 99, enc("lost\n")));
      await daemon.waitForLog(/ignored input for attachment 99: not attached/);
      await bin.write(encodeBinaryFrame(BINARY_OUTPUT, 7, enc("odd\n")));
      await daemon.waitForLog(/ignored a binary frame of unknown kind 1/);
      const ro = await json.request("attach", { session: "b", readOnly: true, binary: true }, 9);
      assert.equal(ro.ok, false, "one attachment per connection and session");
      const viewer = await RawClient.connect(h.socket);
      const v = await viewer.request("attach", { session: "b", readOnly: true, binary: true }, 3);
      assert.equal(v.ok, true);
      await viewer.write(encodeBinaryFrame(BINARY_INPUT, 3, enc("sneaky\n")));
      await daemon.waitForLog(/ignored input for attachment 3: this client is attached read-only/);
      // The JSON path still works beside it.
      assert.equal((await json.request("input", { session: "b", data: btoa("pong\n") })).ok, true);
      assert.match(await outputUntil(bin, 7, true, "pong"), /pong/);
      assert.match(await outputUntil(viewer, 3, true, "pong"), /pong/);
      assert.doesNotMatch(await h.ok(["peek", "b"]), /lost|odd|sneaky/);
      // Only the first ten a client sends are logged.
      for (let i = 0; i < 20; i++) {
        await viewer.write(encodeBinaryFrame(BINARY_INPUT, 1000 + i, enc("x")));
      }
      await daemon.waitForLog(/further ignored frames are not logged/);
      assert.equal((await viewer.request("status", {}, 4)).ok, true);
      assert.match(daemon.log, /attachment 1008: not attached/);
      assert.doesNotMatch(daemon.log, /attachment 1009: not attached/);

      // A frame too large to skip: the client is dropped, saying why.
      await viewer.write(
        encodeBinaryFrame(BINARY_INPUT, 3, new Uint8Array(0)).fill(0xff, 6, 10),
      );
      const dropped = await viewer.next((m) => m.type === "dropped");
      assert.match(
        dropped.reason as string,
        new RegExp(`binary frame too large \\(4294967295 bytes; at most ${MAX_MESSAGE_BYTES}\\)`),
      );
      viewer.close();

      // The end is told as before, as JSON.
      await h.ok(["kill", "b"]);
      await bin.next((m) => m.type === "exit" && m.sub === 7);
      await json.next((m) => m.type === "exit" && m.sub === 8);
    } finally {
      bin.close();
      json.close();
      await daemon.stop();
      await h.cleanup();
    }
  },
);
