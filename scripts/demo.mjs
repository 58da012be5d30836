// `npm start` after the builds: the demo chain on 127.0.0.1 until Ctrl-C, which stops it all.
import { launchDemo, ROOT, ADMIN_TOKEN, SITE } from "../www/demo/launch.mjs";
import path from "node:path";

const relayPort = Number(process.env.AIDLINK_PORT || 8080);
const demo = await launchDemo({ relayPort, peerPort: relayPort + 1, dir: path.join(ROOT, ".aidlink"), inheritLogs: true });
console.log(`
aidlink demo is running (Ctrl-C stops everything):
  demo shop page       ${demo.relayUrl}/            (variants: /consent.html, /csp.html; ?rtb_delay=5000&ct_delay=3000)
  capture bundle       ${demo.relayUrl}/aidlink.js
  relay metrics        ${demo.relayUrl}/metrics
  operator screen      ${demo.relayUrl}/admin          (sign in with the admin token: ${ADMIN_TOKEN})
  decision log         curl -H 'Authorization: Bearer ${ADMIN_TOKEN}' '${demo.relayUrl}/v1/sites/${SITE}/leads?status=sent'
  fake RTB House       ${demo.peerUrl}/demo/postbacks
  relay config         ${demo.configPath}
`);
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await demo.stop();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
demo.child.once("exit", (code) => {
  if (!stopping) {
    console.error(`aidlink-relay exited (${code})`);
    demo.peer.close().then(() => process.exit(1));
  }
});
