import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { gzipFile, stopGzipWorker } from "./_gzip.ts";

/** The nice value of each thread of this process. */
function threadNices(): number[] {
  return [...Deno.readDirSync("/proc/self/task")].map((t) => {
    const stat = Deno.readTextFileSync(`/proc/self/task/${t.name}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}

Deno.test({
  name: "gzip: archives are compressed whole, on a thread at the lowest CPU priority",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const text = "a line of output\r\n".repeat(10_000);
      await Deno.writeTextFile(`${dir}/log`, text);
      // A worker an earlier test left (it lingers after its job) is ended first.
      stopGzipWorker();
      const deadline = Date.now() + 10_000;
      while (threadNices().includes(19)) {
        assert.ok(Date.now() < deadline, "a thread stays at nice 19 after the worker was stopped");
        await new Promise((r) => setTimeout(r, 20));
      }
      await gzipFile(`${dir}/log`, `${dir}/log.gz`);
      // The worker stays a while after its job: one thread of this process is it.
      assert.ok(threadNices().includes(19), `no thread at nice 19: ${threadNices()}`);
      const back = new TextDecoder().decode(gunzipSync(await Deno.readFile(`${dir}/log.gz`)));
      assert.equal(back, text);
    } finally {
      stopGzipWorker();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
