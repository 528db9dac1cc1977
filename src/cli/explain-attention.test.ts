/**
 * @module cli/explain-attention.test
 * `explain` with a real attention model (skipped while no `transformer` kind is registered): a tiny Transformer
 * trained by `train` on the committed web-server sample's `io` requests; `explain --json` gives, for each of the
 * most surprising events, the earlier events it attended to (strictly earlier: the model predicts an event from
 * the ones before it), heaviest first, weights in (0, 1] summing to at most 1; the text lists them and the HTML
 * page outlines them on hover. An n-gram's explanation has no attention.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findModelKind } from '../models/language-model.js';
import { projectData } from '../testing/paths.js';
import { cli } from './cli-process.js';

const IO = projectData('web-demo', 'io.jsonl.gz');
const skip = findModelKind('transformer') ? undefined : 'no transformer model kind registered yet';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'sa-att-'));
});
after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('explain shows what the flagged events of a real Transformer attended to', { skip }, () => {
  const dir = join(root, 'tf');
  const t = cli('train', '--model', 'transformer', '--fields', 'name', '--width', '16', '--embed', '16', '--heads', '2', '--layers', '1',
    '--ffn', '32', '--epochs', '1', '--context', '64', '--chunk', '64', '--segment', 'request', '--train', IO, '-o', dir);
  assert.equal(t.code, 0, t.err);
  const scored = cli('score', '--model', dir, IO, '--json');
  assert.equal(scored.code, 0, scored.err);
  const seqs = JSON.parse(scored.out).sequences as { id: string; length: number; perplexity: number }[];
  const worst = seqs.filter((s) => s.length >= 10).sort((a, b) => b.perplexity - a.perplexity)[0];
  const html = join(root, 'tf.html');
  const r = cli('explain', '--model', dir, IO, '--sequence', worst.id, '--top', '4', '--json', '--html', html);
  assert.equal(r.code, 0, r.err);
  const exp = JSON.parse(r.out).explanation;
  assert.equal(exp.attention.length, 4);
  exp.attention.forEach((a: { index: number; to: { index: number; name: string; weight: number }[] }, k: number) => {
    assert.equal(a.index, exp.top[k].index);
    assert.ok(a.to.length >= 1 && a.to.length <= 5, `${a.to.length} attended events`);
    let sum = 0;
    a.to.forEach((x, j) => {
      assert.ok(x.index >= -1 && x.index < a.index, `event ${a.index} attends to ${x.index}`);
      assert.ok(x.weight > 0 && x.weight <= 1);
      if (j > 0) assert.ok(x.weight <= a.to[j - 1].weight, 'heaviest first');
      sum += x.weight;
    });
    assert.ok(sum <= 1 + 1e-5, `weights sum to ${sum}`);
  });
  const page = readFileSync(html, 'utf8');
  const first = exp.attention.find((a: { to: unknown[] }) => a.to.length > 0);
  assert.ok(page.includes(`body:has(#e${first.index}:hover,#e${first.index}:target)`));
  const text = cli('explain', '--model', dir, IO, '--sequence', worst.id, '--top', '4');
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /attention of the most surprising events/);
  // an n-gram has no attention
  const ng = join(root, 'ng');
  assert.equal(cli('train', '--model', 'ngram', '--segment', 'request', '--train', IO, '-o', ng).code, 0);
  const plain = JSON.parse(cli('explain', '--model', ng, IO, '--sequence', worst.id, '--json').out);
  assert.equal(plain.explanation.attention, undefined);
});
