#!/usr/bin/python3
"""A tiny HTTP/1.1 server for the web-demo recordings (experiments/web-demo/record.sh).

Thread per connection (ThreadingHTTPServer), keep-alive (HTTP/1.1). Routes:
  /                 static file (site/index.html)
  /static/<name>    static files under site/ (404 for anything else)
  /api/items        every row of a small SQLite table, as JSON
  /api/item/<id>    one row (404 when absent)
  /api/config       a small JSON file read from disk on every request
  /health           a constant text body, no file or database access
Usage: server.py PORT DATA_DIR [--log FILE]
  --log FILE: verbose request logging (the "io" novelty): every request appends its request line and headers to
  FILE before it is answered, and the file is flushed and fsync'ed after each write.
"""
import json, os, signal, sqlite3, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
DATA = sys.argv[2]
LOG = sys.argv[sys.argv.index('--log') + 1] if '--log' in sys.argv else None
SITE = os.path.join(DATA, 'site')
DB = os.path.join(DATA, 'items.sqlite')
CONFIG = os.path.join(DATA, 'config.json')
log_file = open(LOG, 'a') if LOG else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):  # quiet unless verbose logging is on
        pass

    def send_body(self, code, body, ctype):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if log_file:  # verbose logging: the request line and headers, on disk before the response is sent
            log_file.write('%s %s "%s"\n%s\n' % (self.client_address[0], time.strftime('%Y-%m-%dT%H:%M:%S'), self.requestline, str(self.headers)))
            log_file.flush()
            os.fsync(log_file.fileno())
        p = self.path
        if p == '/':
            p = '/static/index.html'
        if p.startswith('/static/'):
            name = p[len('/static/'):]
            path = os.path.join(SITE, name)
            if '/' in name or not os.path.isfile(path):
                self.send_body(404, b'not found\n', 'text/plain')
            else:
                with open(path, 'rb') as f:
                    body = f.read()
                self.send_body(200, body, 'text/html' if name.endswith('.html') else 'text/css' if name.endswith('.css') else 'application/octet-stream')
        elif p == '/api/items' or p.startswith('/api/item/'):
            con = sqlite3.connect(DB)
            try:
                if p == '/api/items':
                    rows = con.execute('SELECT id, name, price FROM items ORDER BY id').fetchall()
                    self.send_body(200, json.dumps([{'id': r[0], 'name': r[1], 'price': r[2]} for r in rows]).encode(), 'application/json')
                else:
                    r = con.execute('SELECT id, name, price FROM items WHERE id = ?', (p.rsplit('/', 1)[1],)).fetchone()
                    if r is None:
                        self.send_body(404, b'{"error":"no such item"}', 'application/json')
                    else:
                        self.send_body(200, json.dumps({'id': r[0], 'name': r[1], 'price': r[2]}).encode(), 'application/json')
            finally:
                con.close()
        elif p == '/api/config':
            with open(CONFIG, 'rb') as f:
                cfg = json.load(f)
            self.send_body(200, json.dumps(cfg).encode(), 'application/json')
        elif p == '/health':
            self.send_body(200, b'ok\n', 'text/plain')
        else:
            self.send_body(404, b'not found\n', 'text/plain')


ThreadingHTTPServer.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # record.sh stops the server with SIGTERM
server = ThreadingHTTPServer(('127.0.0.1', PORT), Handler)
print('listening', PORT, flush=True)
try:
    server.serve_forever()
except (KeyboardInterrupt, SystemExit):
    pass
