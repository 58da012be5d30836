// The several-instance part of `npm run reliability` (RELIABILITY.md): three relays share one
// PostgreSQL database (scripts/postgres.sh starts a throwaway server; AIDLINK_TEST_POSTGRES);
// workers spread bindings and call webhooks over them, the start and the end of each call on two
// different instances at the same moment, while one instance at a time is SIGKILLed and
// restarted. Then every acknowledged lead must be `sent`, posted to RTB House with its own
// visitor's id; a repeat of a conversion id counts only when a kill explains it (the postback
// was accepted by RTB House before a kill and sent again after it).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export async function instances(ctx) {
  const { work, size, quick, row, receiver, startRelay, kill, bind, request, trail, metrics, waitFor, config, aidOf, callBody, TOKEN, SITE, rand } = ctx;
  const base = process.env.AIDLINK_TEST_POSTGRES;
  if (!base) {
    row("instances", "skipped: no PostgreSQL (npm run reliability starts one)", "runs", null);
    return;
  }
  const dir = join(work, "instances");
  mkdirSync(dir, { recursive: true });
  const schema = `rel_${Date.now()}`;
  const made = spawnSync("psql", [base, "-qAtc", `CREATE SCHEMA ${schema}`], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`psql: ${made.stderr}`);
  const db = `${base}${base.includes("?") ? "&" : "?"}options=-c%20search_path%3D${schema}`;
  const rx = await receiver();
  rx.state.delay = 30; // postbacks in flight for a while: a kill can land between 200 and its record
  const rtb = "timeout_ms = 1000\nretry_base_ms = 100\nretry_cap_ms = 500";
  const relays = [];
  for (let i = 0; i < 3; i++) {
    const cfg = join(dir, `relay-${i}.toml`);
    writeFileSync(cfg, config({ db: "x", endpoint: rx.endpoint, rtb }).replace('url = "sqlite://x"', `url = "${db}"\npool_size = 4\noutbox_lease_ms = 6000`));
    const r = await startRelay(cfg, join(dir, `relay-${i}.log`));
    // Restarts reuse the same port.
    writeFileSync(cfg, config({ db: "x", endpoint: rx.endpoint, rtb, listen: `127.0.0.1:${r.port}` }).replace('url = "sqlite://x"', `url = "${db}"\npool_size = 4\noutbox_lease_ms = 6000`));
    relays.push({ cfg, log: join(dir, `relay-${i}.log`), proc: r, url: `http://127.0.0.1:${r.port}` });
  }
  // Try instance `first`, then the others (a load balancer skipping one that is down).
  const send = async (first, fn, ok) => {
    for (let t = 0; t < 60; t++) {
      const r = await fn(relays[(first + t) % 3].url);
      if (r.status === ok) return true;
      await sleep(t % 3 === 2 ? 100 : 0);
    }
    return false;
  };
  const hook = (url, k, phase) => request(`${url}/v1/calltouch/${SITE}?token=${TOKEN}`, {
    method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
    body: callBody(k, String(8_000_000 + k)).replace("callphase=calldisconnected", `callphase=${phase}`),
  });
  const acked = [];
  let next = 0;
  let stopping = false;
  const worker = async () => {
    while (!stopping) {
      const k = next++;
      if (!(await send(k, (url) => bind(url, k, `inst-${k}`), 204))) continue;
      const [a, b] = await Promise.all([
        send(k + 1, (url) => hook(url, k, "callconnected"), 200),
        send(k + 2, (url) => hook(url, k, "calldisconnected"), 200),
      ]);
      if (a && b) acked.push(k);
    }
  };
  const workers = Array.from({ length: size.workers }, worker);
  const killedAt = [];
  const spawnedAt = [];
  const kills = quick ? 2 : size.kills;
  try {
    for (let i = 0; i < kills; i++) {
      await sleep(rand(300, quick ? 800 : 1500));
      const victim = relays[i % 3];
      killedAt.push(Date.now());
      await kill(victim.proc, "SIGKILL");
      await sleep(rand(50, 250));
      spawnedAt.push(Date.now());
      for (let t = 0; ; t++) {
        try { victim.proc = await startRelay(victim.cfg, victim.log); break; } catch (e) { if (t > 20) throw e; await sleep(100); }
      }
    }
    await sleep(300);
  } finally {
    stopping = true;
    await Promise.all(workers);
  }
  const settled = await waitFor(quick ? 60 : 120, async () => {
    for (const r of relays) if ((await metrics(r.url))?.depth !== 0) return false;
    for (const k of acked) if ((await trail(relays[k % 3].url, `call-${8_000_000 + k}`)).status !== "sent") return false;
    return true;
  }, 500);
  await sleep(300);
  const accepted = rx.accepted();
  let lost = 0, wrongAid = 0, explained = 0, unexplained = 0;
  for (const k of acked) {
    const got = accepted.get(`ct-call-${8_000_000 + k}`) ?? [];
    wrongAid += got.filter((p) => p.aid !== aidOf(k)).length;
    if (got.length === 0) lost++;
    for (let i = 1; i < got.length; i++) {
      if (killedAt.some((t, j) => got[i - 1].at <= spawnedAt[j] && t <= got[i].at)) explained++;
      else unexplained++;
    }
  }
  for (const r of relays) await kill(r.proc, "SIGTERM");
  rx.close();
  spawnSync("psql", [base, "-qAtc", `DROP SCHEMA ${schema} CASCADE`]);
  row("instances", `${acked.length} leads acknowledged over 3 instances, ${kills} SIGKILLs`, "> 0", acked.length > 0);
  row("instances", `all sent and the outbox empty: ${settled ? "yes" : "no"}`, "yes", Boolean(settled));
  row("instances", `lost ${lost}`, "0", lost === 0);
  row("instances", `posted with another visitor's id ${wrongAid}`, "0", wrongAid === 0);
  row("instances", `repeats explained by a kill ${explained}, unexplained ${unexplained}`, "unexplained 0", unexplained === 0);
}
