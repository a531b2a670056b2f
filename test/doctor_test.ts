/**
 * End-to-end: `doctor` in a temporary home, with no service manager.
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";

Deno.test("doctor: the home check sees the home as the daemon it started left it", async () => {
  const home = await TestHome.create();
  const env = { CLAUDE_SESSIONS_SERVICE_MANAGER: "none" };
  try {
    // A home made readable by others, and no daemon: doctor starts one, which tightens it.
    await Deno.chmod(home.dir, 0o755);
    const r = await home.cli(["doctor", "--json"], { env });
    const doc = JSON.parse(r.stdout);
    const ids = doc.checks.map((c: { id: string }) => c.id);
    assert.ok(ids.indexOf("daemon") < ids.indexOf("home"), ids.join(" "));
    const check = (id: string) => doc.checks.find((c: { id: string }) => c.id === id);
    assert.equal(check("daemon").status, "ok", JSON.stringify(check("daemon")));
    assert.match(check("daemon").detail, /^started it; pid \d+/);
    assert.equal(check("home").status, "ok", JSON.stringify(check("home")));
    assert.equal(check("home").detail, `${home.dir} (mode 700)`);
    assert.equal((await Deno.stat(home.dir)).mode! & 0o777, 0o700);
  } finally {
    await home.cli(["stop-daemon"], { env });
    await home.cleanup();
  }
});
