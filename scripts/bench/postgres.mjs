// The PostgreSQL part of `npm run bench` (BENCHMARKS.md, "PostgreSQL and several instances"):
// binding ingest and webhook throughput on SQLite (one relay), PostgreSQL with one relay and
// PostgreSQL with three relays sharing the database, in the same run, with the same wrk load
// (for three relays, three wrk processes, one per relay, sharing the same connections in all).
// scripts/bench.sh starts the throwaway server (scripts/postgres.sh) and exports
// AIDLINK_TEST_POSTGRES; scripts/bench.mjs calls `postgresBench(ctx)` with its helpers.
import { spawnSync } from "node:child_process";
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/** A new schema on the test server; the storage URL whose connections use it. */
function schemaUrl(base, name) {
  const schema = `bench_${name}_${Date.now()}`;
  const r = spawnSync("psql", [base, "-qAtc", `CREATE SCHEMA ${schema}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql: cannot create a schema: ${r.stderr || r.error}`);
  return `${base}${base.includes("?") ? "&" : "?"}options=-c%20search_path%3D${schema}`;
}

function dropSchemas(base) {
  spawnSync("psql", [base, "-qAtc",
    "DO $$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%' " +
    "LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END$$"], { encoding: "utf8" });
}

export async function postgresBench(ctx) {
  const { wrk, startServer, stop, load, receiver, row, fmt, ratioText, log, work, relayBin, size, details } = ctx;
  const base = process.env.AIDLINK_TEST_POSTGRES;
  if (!base) throw new Error("no PostgreSQL server: run it through npm run bench (scripts/bench.sh starts one)");
  const rx = await receiver();
  const out = (details.postgres = {});
  const config = (name, url, port = 0) => {
    const file = join(work, `${name}.toml`);
    writeFileSync(file,
      `[server]\nlisten = "127.0.0.1:${port}"\nadmin_token = "${ctx.ADMIN}"\n${ctx.features.rateLimitKey}\n` +
      `[storage]\nurl = "${url}"\n\n[rtbhouse]\nendpoint = "${rx.endpoint}"\ntimeout_ms = 2000\n\n` +
      `[[site]]\nid = "${ctx.SITE_A}"\npkey = "bench-pkey"\ntagging_hash = "${ctx.HASH}"\nregion = "omni"\n` +
      `webhook_token = "${ctx.TOKEN}"\nallowed_origins = ["https://shop.example"]\nmetrics = ["all_calls"]\n`);
    return file;
  };
  // One setup: `count` relays on `url`; bindings of 1000 visitors; then ingest, then webhooks.
  const run = async (label, url, count) => {
    const relays = [];
    try {
      for (let i = 0; i < count; i++) {
        const file = config(`pg-${label}-${i}`, url);
        relays.push(await startServer(`relay (${label} ${i})`, relayBin, ["serve", "--config", file], join(work, `pg-${label}-${i}.log`)));
      }
      await load(relays[0], ctx.SITE_A, 0, 1000);
      const split = (total) => Math.max(1, Math.floor(total / count));
      const ingest = await Promise.all(relays.map((r, i) => wrk({
        url: r.url, threads: 1, connections: split(ctx.INGEST.connections), seconds: size.ingestSeconds,
        args: ["bindings", ctx.SITE_A, 10_000_000 * (i + 1), 1e9, 1],
      })));
      const hooks = await Promise.all(relays.map((r, i) => wrk({
        url: r.url, threads: 1, connections: split(ctx.WEBHOOKS.connections * 3), seconds: size.seconds,
        args: ["webhooks", ctx.SITE_A, ctx.TOKEN, 1000, 4 + i],
      })));
      const sum = (rs) => ({
        rps: rs.reduce((a, r) => a + r.rps, 0),
        p99_us: Math.max(...rs.map((r) => r.p99_us)),
        bad: rs.reduce((a, r) => a + r.status + r.errors, 0),
      });
      return { ingest: sum(ingest), webhooks: sum(hooks) };
    } finally {
      for (const r of relays) await stop(r);
    }
  };
  try {
    const sqliteDb = join(work, "pg-compare.db");
    for (const f of [sqliteDb, `${sqliteDb}-wal`, `${sqliteDb}-shm`]) rmSync(f, { force: true });
    log("postgres: SQLite, one relay (the baseline of this run)");
    out.sqlite = await run("sqlite", `sqlite://${sqliteDb}`, 1);
    log("postgres: PostgreSQL, one relay");
    out.pg1 = await run("pg1", schemaUrl(base, "one"), 1);
    log("postgres: PostgreSQL, three relays on one database");
    out.pg3 = await run("pg3", schemaUrl(base, "three"), 3);
  } finally {
    rx.close();
    dropSchemas(base);
  }
  const line = (what, key) => {
    const s = out.sqlite[key].rps;
    for (const [name, r] of [["SQLite, 1 relay", out.sqlite], ["PostgreSQL, 1 relay", out.pg1], ["PostgreSQL, 3 relays", out.pg3]]) {
      const x = r[key];
      const bad = x.bad ? ` (${x.bad} errors or non-2xx)` : "";
      row(`${what}: ${name}`, `${fmt.rate(x.rps)}, p99 ${fmt.ms(x.p99_us)}, ${ratioText(x.rps / s)} of SQLite${bad}`);
    }
  };
  line("ingest (POST /v1/bindings)", "ingest");
  line("webhooks (call end, bound visitors)", "webhooks");
}
