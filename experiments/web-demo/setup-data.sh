#!/bin/bash
# Creates the server's data folder $1: a static site, a SQLite table of 20 items, a JSON config.
set -euo pipefail
d=$1
mkdir -p "$d/site"
printf '<!doctype html><title>web demo</title><link rel=stylesheet href=/static/style.css><h1>Items</h1><p>See <a href=/api/items>/api/items</a>.</p>\n' > "$d/site/index.html"
printf 'body { font-family: sans-serif; margin: 2em; }\nh1 { color: #345; }\n' > "$d/site/style.css"
head -c 20000 /dev/zero | tr '\0' 'x' > "$d/site/logo.bin"
printf '{"name":"web-demo","version":1,"features":["items","config"],"limits":{"items":20}}\n' > "$d/config.json"
rm -f "$d/items.sqlite"
/usr/bin/python3 - "$d/items.sqlite" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)')
con.executemany('INSERT INTO items VALUES (?, ?, ?)', [(i, 'item %d' % i, 1.5 * i) for i in range(1, 21)])
con.commit()
PY
