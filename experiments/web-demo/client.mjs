// Drives the web-demo server: node client.mjs PORT REQUESTS CONNECTIONS keep-alive|close SEED
// CONNECTIONS workers each send requests one after another (paced by a random 0–4 ms pause) over an http.Agent
// with at most CONNECTIONS sockets; `keep-alive` reuses them, `close` sends `Connection: close` on every request
// (one connection per request). Routes are drawn from a fixed mix with a seeded generator, so runs are repeatable.
// Prints a JSON summary (requests per route and status) on stdout.
import http from 'node:http';

const [port, total, conns, mode, seed] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5], Number(process.argv[6] ?? 1)];
if (!port || !total || !conns || !['keep-alive', 'close'].includes(mode)) {
  console.error('usage: node client.mjs PORT REQUESTS CONNECTIONS keep-alive|close [SEED]');
  process.exit(2);
}
let s = seed >>> 0 || 1;
const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
const MIX = [
  [20, () => '/'], [15, () => '/static/style.css'], [5, () => '/static/logo.bin'], [15, () => '/api/items'],
  [20, () => `/api/item/${1 + Math.floor(rand() * 25)}`], [10, () => '/api/config'], [10, () => '/health'], [5, () => '/static/missing.html'],
];
const W = MIX.reduce((a, [w]) => a + w, 0);
function route() {
  let r = rand() * W;
  for (const [w, f] of MIX) { if ((r -= w) < 0) return f(); }
  return '/';
}
const keepAlive = mode === 'keep-alive';
const agent = new http.Agent({ keepAlive, maxSockets: conns });
const counts = {};
let sent = 0;
function get(path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: keepAlive ? {} : { Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => { const k = `${path.startsWith('/api/item/') ? '/api/item/N' : path} ${res.statusCode}`; counts[k] = (counts[k] ?? 0) + 1; resolve(); });
    });
    req.on('error', reject);
  });
}
async function worker() {
  while (sent < total) {
    sent++;
    await get(route());
    await new Promise((r) => setTimeout(r, Math.floor(rand() * 5)));
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: conns }, worker));
agent.destroy();
console.log(JSON.stringify({ mode, requests: sent, connections: conns, seconds: (Date.now() - t0) / 1000, counts }));
