/**
 * @module features/sequences/http.test
 * Real recordings: `strace -f -ttt -T -yy` of a tiny Python HTTP/1.1 keep-alive server answering N requests over ONE
 * connection (node client with a keep-alive agent), read back by the strace reader and cut into request and
 * connection sequences; and of a front server that forwards each request to a forked worker over a Unix socket
 * (FastCGI-style), where each request sequence must carry the worker's events too.
 * Skipped (with the reason) where strace cannot trace (not installed, ptrace forbidden).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStrace } from '../../trace/strace/strace.js';
import type { PairingMode } from '../../trace/event.js';
import { segment, type Segmentation, type Sequence } from './index.js';

const SERVER = String.raw`
import http.server, os, socket, sys
port_file, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sock_path = port_file + '.sock'
worker = None
if mode == 'worker':
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(sock_path)
    ls.listen(8)
    worker = os.fork()
    if worker == 0:
        for _ in range(n):
            c, _a = ls.accept()
            path = c.recv(4096)
            with open('/etc/hostname', 'rb') as f:
                f.read()
            c.sendall(b'worker saw ' + path)
            c.close()
        os._exit(0)
    ls.close()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        if mode == 'worker':
            b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            b.connect(sock_path)
            b.sendall(self.path.encode())
            body = b.recv(4096) + b'\n'
            b.close()
        else:
            body = ('hello ' + self.path + '\n').encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(('127.0.0.1', 0), H)
with open(port_file + '.tmp', 'w') as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + '.tmp', port_file)
srv.handle_request()
if worker:
    os.waitpid(worker, 0)
`;

function straceUsable(): string | undefined {
  const r = spawnSync('strace', ['-f', '-o', '/dev/null', 'true'], { encoding: 'utf8' });
  if (r.error) return `strace not available (${r.error.message})`;
  if (r.status !== 0) return `strace cannot trace here: ${r.stderr.trim().split('\n')[0]}`;
  const p = spawnSync('python3', ['-c', 'pass']);
  if (p.error || p.status !== 0) return 'python3 not available';
  return undefined;
}
const skip = straceUsable();

async function waitForFile(path: string, ms: number): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      if (Date.now() - t0 > ms) throw new Error(`server did not start within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function fetchText(agent: Agent, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Records the server under strace while a keep-alive client sends `n` requests; returns the trace path. */
async function record(dir: string, mode: 'plain' | 'worker', n: number): Promise<{ trace: string; bodies: string[] }> {
  const script = join(dir, 'srv.py');
  writeFileSync(script, SERVER);
  const trace = join(dir, `${mode}.strace`);
  const portFile = join(dir, `${mode}.port`);
  const child = spawn('strace', ['-f', '-ttt', '-T', '-yy', '-o', trace, 'python3', script, portFile, mode, String(n)], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const port = Number(await waitForFile(portFile, 20_000));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) bodies.push(await fetchText(agent, port, `/r${i}`));
  agent.destroy(); // closes the one connection: the server's handle_request returns
  assert.equal(await exited, 0, 'server under strace exited cleanly');
  return { trace, bodies };
}

async function collect(trace: string, pairing: PairingMode, kind: Segmentation): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const s of segment(openStrace(trace, pairing, false), kind, 100_000)) out.push(s);
  return out;
}

const isData = (name: string) => name === 'recvfrom' || name === 'read' || name === 'recvmsg';

test('keep-alive: N requests on one connection give N request sequences (real strace recording)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-http-'));
  try {
    const n = 4;
    const { trace, bodies } = await record(dir, 'plain', n);
    assert.deepEqual(bodies, [0, 1, 2, 3].map((i) => `hello /r${i}\n`));
    for (const pairing of ['paired', 'raw'] as const) {
      const conns = await collect(trace, pairing, 'connection');
      assert.equal(conns.length, 1, `${pairing}: one connection`);
      assert.ok(conns[0].events[0].name.startsWith('accept'));
      assert.equal(conns[0].events.at(-1)!.name, 'close');
      const reqs = await collect(trace, pairing, 'request');
      assert.equal(reqs.length, n, `${pairing}: one sequence per request`);
      const connFd = conns[0].events.find((e) => isData(e.name))!.args.fd;
      for (const [i, r] of reqs.entries()) {
        const first = r.events.find((e) => e.phase !== 'entry')!;
        assert.ok(isData(first.name), `${pairing} request ${i} starts with a read, got ${first.name}`);
        assert.equal(first.args.fd, connFd);
        const raw = String(r.events.filter((e) => isData(e.name)).map((e) => e.args.raw).join(''));
        assert.ok(raw.includes(`GET /r${i} HTTP/1.1`), `${pairing} request ${i} reads its own request line`);
        const last = r.events.at(-1)!;
        assert.ok(/^(sendto|write|writev|sendmsg)$/.test(last.name), `${pairing} request ${i} ends with a write, got ${last.name}`);
        assert.ok(String(last.args.raw).includes(`hello /r${i}`), `${pairing} request ${i} ends with its own response body`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FastCGI-style: each request sequence carries the linked worker events (real strace recording)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-fcgi-'));
  try {
    const n = 3;
    const { trace, bodies } = await record(dir, 'worker', n);
    assert.deepEqual(bodies, [0, 1, 2].map((i) => `worker saw /r${i}\n`));
    const stream = segment(openStrace(trace, 'paired', false), 'request', 100_000);
    const reqs: Sequence[] = [];
    for await (const s of stream) reqs.push(s);
    assert.equal(reqs.length, n, 'worker requests are merged into the server requests, not emitted alone');
    assert.equal(stream.counts.linkedWorkers, n);
    for (const [i, r] of reqs.entries()) {
      const pids = new Set(r.events.map((e) => e.pid));
      assert.equal(pids.size, 2, `request ${i} holds server and worker events`);
      const worker = r.events.filter((e) => e.pid !== r.events[0].pid);
      assert.ok(worker.some((e) => e.name === 'openat' && String(e.args.raw).includes('/etc/hostname')), 'the worker\'s file access');
      assert.ok(worker.some((e) => isData(e.name) && String(e.args.raw).includes(`/r${i}`)), 'the worker reads this request');
      for (let k = 1; k < r.events.length; k++) assert.ok(r.events[k - 1].ts <= r.events[k].ts, 'merged in time order');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
