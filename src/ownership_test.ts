import assert from "node:assert/strict";
import {
  checkHomeContents,
  checkHomePath,
  OwnershipError,
  prepareHome,
  readOwnTextFile,
  userLabel,
} from "./ownership.ts";
import { paths } from "./paths.ts";

const me = Deno.uid()!;
/** A uid that is not this process's. */
const other = me === 65534 ? 65533 : 65534;

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-own-" });
}

Deno.test("a home owned by someone else is refused, naming both users and what to do", async () => {
  const dir = await tmp();
  try {
    await Deno.chmod(dir, 0o777);
    // Seen by another user, this (existing, 0777) home is not theirs.
    await assert.rejects(
      checkHomePath(dir, other),
      (e: Error) =>
        e instanceof OwnershipError &&
        e.message.includes(
          `the home ${dir} is owned by ${userLabel(me)}, not by you (${userLabel(other)})`,
        ) && e.message.includes("CLAUDE_SESSIONS_HOME"),
    );
    // prepareHome refuses before trying to tighten it (no chmod error).
    await assert.rejects(prepareHome(paths(dir), () => {}, other), OwnershipError);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o777);
    await checkHomePath(dir, me);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a home below a directory others can write to (not sticky) is refused", async () => {
  const dir = await tmp();
  try {
    await Deno.chmod(dir, 0o777);
    await assert.rejects(
      checkHomePath(`${dir}/home`, me),
      (e: Error) => e instanceof OwnershipError && /others can write to \(mode 777/.test(e.message),
    );
    await Deno.chmod(dir, 0o1777); // sticky, like /tmp: fine
    await checkHomePath(`${dir}/home`, me);
    await Deno.chmod(dir, 0o755);
    await checkHomePath(`${dir}/a/b/home`, me);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a home below another user's directory is refused; '..' is resolved", async () => {
  const dir = await tmp();
  try {
    // Owned by neither the checking user nor root (root may own anything).
    let owner = me;
    if (me === 0) await Deno.chown(dir, owner = 12345, 12345);
    await assert.rejects(
      checkHomePath(`${dir}/x/../home`, other),
      (e: Error) =>
        e instanceof OwnershipError &&
        e.message.includes(`inside ${dir}, which is owned by ${userLabel(owner)}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareHome creates 0700 or tightens; contents must be real dirs and files", async () => {
  const dir = await tmp();
  try {
    const p = paths(`${dir}/home`);
    const logged: string[] = [];
    await prepareHome(p, (m) => logged.push(m));
    assert.equal((await Deno.stat(p.home)).mode! & 0o777, 0o700);
    assert.equal(logged.length, 0);
    await Deno.chmod(p.home, 0o755);
    await prepareHome(p, (m) => logged.push(m));
    assert.equal((await Deno.stat(p.home)).mode! & 0o777, 0o700);
    assert.match(logged[0]!, /tightened permissions/);

    await Deno.symlink(dir, p.sessionsDir);
    await assert.rejects(
      checkHomeContents(p),
      (e: Error) => e instanceof OwnershipError && /sessions is a symbolic link/.test(e.message),
    );
    await Deno.remove(p.sessionsDir);
    await Deno.writeTextFile(p.spoolDir, "");
    await assert.rejects(
      checkHomeContents(p),
      (e: Error) => e instanceof OwnershipError && /spool is not a directory/.test(e.message),
    );
    await Deno.remove(p.spoolDir);
    await Deno.writeTextFile(p.daemonLog, "");
    await checkHomeContents(p);
    await assert.rejects(
      checkHomeContents(p, other),
      (e: Error) =>
        e instanceof OwnershipError &&
        e.message.includes(`daemon.log is owned by ${userLabel(me)}, not by you`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readOwnTextFile: only regular files of this user; a FIFO is never opened", async () => {
  const dir = await tmp();
  try {
    await Deno.writeTextFile(`${dir}/f`, "hello");
    assert.equal(await readOwnTextFile(`${dir}/f`), "hello");
    await Deno.symlink(`${dir}/f`, `${dir}/link`);
    assert.equal(await readOwnTextFile(`${dir}/link`), "hello");
    await assert.rejects(
      readOwnTextFile(`${dir}/f`, other),
      (e: Error) => e instanceof OwnershipError && /owned by/.test(e.message),
    );
    const mk = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(mk.success);
    // Opening it for reading would block until a writer came.
    await assert.rejects(
      readOwnTextFile(`${dir}/fifo`),
      (e: Error) => e instanceof OwnershipError && /not a regular file/.test(e.message),
    );
    await assert.rejects(readOwnTextFile(`${dir}/none`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
