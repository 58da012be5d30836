// The demo's stand-in for the two outside systems, on loopback:
//  - RTB House: receives postbacks at /{region}/postbacks, records them, can fail on demand;
//  - Calltouch: POST /demo/simulate sends Calltouch-shaped webhooks (URL-encoded, with `null`
//    strings and personal-data fields, as Calltouch does) server-to-server to the relay.
// The demo page reads both through GET /demo/postbacks (CORS). Used by `npm start` and the
// end-to-end tests. Run alone: node www/demo/peer.mjs --port 8081 --relay http://127.0.0.1:8080 --token T [--admin A]
import { createServer } from "node:http";

export async function startPeer({ port = 0, relay, token, site = "38342", admin = null }) {
  const postbacks = [];
  const failures = [];
  let leadSeq = 0;

  async function webhook(fields) {
    const body = new URLSearchParams(fields).toString();
    const response = await fetch(`${relay}/v1/calltouch/${site}?token=${encodeURIComponent(token)}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    return response.status;
  }

  async function callLasts(lead) {
    const until = Date.now() + 10_000;
    const judged = async () => {
      const r = await fetch(`${relay}/v1/sites/${site}/leads/${lead}`, { headers: { authorization: `Bearer ${admin}` } });
      return r.ok && (await r.json()).events.every((e) => e.reason);
    };
    if (!admin) return new Promise((r) => setTimeout(r, 300));
    while (Date.now() < until && !(await judged().catch(() => false))) await new Promise((r) => setTimeout(r, 50));
  }

  async function simulate(kind, session, ctClient, attrs) {
    leadSeq += 1;
    const id = `${Date.now() % 1e9}${leadSeq}`;
    const common = {
      sessionId: session || "null", ctClientId: ctClient || "null", siteId: site,
      source: "yandex", medium: "cpc", utm_source: "yandex", utm_medium: "cpc", utm_campaign: "demo",
      utm_content: "null", utm_term: "null", hostname: "127.0.0.1", attrs: attrs || "null",
      ip: "95.31.18.119", city: "Москва",
    };
    if (kind === "request") {
      const status = await webhook({
        leadtype: "request", requestId: id, requestNumber: String(leadSeq), subject: "Заявка с сайта",
        requestDate: new Date().toISOString().slice(0, 19).replace("T", " "), uniquerequest: "true",
        targetrequest: "true", uniqtargetrequest: "true", fio: "Анна", phone: "79035550000",
        email: "anna@mail.example", tags_request: "null", ...common,
      });
      return { lead: `request-${id}`, statuses: [status] };
    }
    const call = {
      leadtype: "call", id, timestamp: String(Math.floor(Date.now() / 1000)), waiting_time: "4",
      unique: "true", callback: "non-callback", callerphone: "79161234567", fio: "Иван Петров",
      tags_auto_ct: "null", tags_manual: "null", ...common,
    };
    const start = await webhook({ ...call, callphase: "callconnected", duration: "0", status: "null", targetcall: "null", uniqtargetcall: "null" });
    // The call lasts until the relay has judged its start (a real one lasts far longer), so the
    // lead's trail shows the start and the end each judged; without the admin token, 300 ms.
    await callLasts(`call-${id}`);
    const end = await webhook({ ...call, callphase: "calldisconnected", duration: "95", status: "successful", targetcall: "target", uniqtargetcall: "uniqtarget" });
    return { lead: `call-${id}`, statuses: [start, end] };
  }

  const cors = { "access-control-allow-origin": "*", "access-control-allow-headers": "content-type" };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://peer");
    try {
      if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
      if (url.pathname.endsWith("/postbacks") && req.method === "POST") {
        const status = failures.length ? failures.shift() : 200;
        postbacks.push({ at: Date.now(), status, url: req.url, aid: url.searchParams.get("aid"), tag: url.searchParams.get("tag") });
        return res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "fail");
      }
      if (url.pathname === "/demo/postbacks") {
        const shown = postbacks.map(({ url: u, ...rest }) => ({ ...rest, pkey: u.includes("pkey=") ? "(set)" : "(missing)" }));
        return res.writeHead(200, { ...cors, "content-type": "application/json" }).end(JSON.stringify(shown));
      }
      if (url.pathname === "/demo/fail" && req.method === "POST") {
        const count = Number(url.searchParams.get("count") || 1);
        const status = Number(url.searchParams.get("status") || 503);
        for (let i = 0; i < count; i++) failures.push(status);
        return res.writeHead(204, cors).end();
      }
      if (url.pathname === "/demo/simulate" && req.method === "POST") {
        const p = url.searchParams;
        const result = await simulate(p.get("kind") || "call", p.get("session"), p.get("ct_client"), p.get("attrs"));
        return res.writeHead(200, { ...cors, "content-type": "application/json" }).end(JSON.stringify(result));
      }
      res.writeHead(404, cors).end();
    } catch (error) {
      res.writeHead(502, { ...cors, "content-type": "text/plain" }).end(String(error));
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, postbacks, failures, simulate, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const peer = await startPeer({ port: Number(arg("port", 8081)), relay: arg("relay", "http://127.0.0.1:8080"), token: arg("token", ""), admin: arg("admin", null) });
  console.log(`demo peer (fake Calltouch + fake RTB House) on ${peer.url}`);
}
