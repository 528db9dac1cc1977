/**
 * @module models/lstm/parity.test
 * Our LSTM graph against PyTorch's float64 autograd (torch.nn Embedding + LSTM + Linear + CrossEntropyLoss with
 * label smoothing and ignored targets), at the bench's full size: the same weights, tokens, targets and initial
 * states, loaded from the reference that `bench/torch_parity.py` dumped once into `src/engine/testdata/` (no Python
 * needed here). Our float64 graph's loss and its autodiff gradient must match: 1e-9 relative to each parameter's largest
 * gradient, 1e-6 elementwise (measured: ~1e-15 and ~3e-11).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { gradients } from '../../engine/autodiff.js';
import { assertParamGradients } from '../../engine/gradcheck.js';
import { Graph, size } from '../../engine/graph.js';
import { createSession } from '../../engine/session.js';
import { projectRoot } from '../../testing/paths.js';
import { lstmLoss, type LstmConfig } from './network.js';

interface Reference {
  vocab: number; embed: number; hidden: number; batch: number; chunk: number; labelSmoothing: number;
  layout: { name: string; shape: number[] }[];
  paramCount: number;
  tokens: number[]; targets: number[];
  loss: number;
}

test('loss and gradients of the full-size LSTM match PyTorch float64 autograd', async (t) => {
  const dir = join(projectRoot(), 'src', 'engine', 'testdata');
  const ref = JSON.parse(readFileSync(join(dir, 'lstm-parity.json'), 'utf8')) as Reference;
  const bin = readFileSync(join(dir, 'lstm-parity.bin'));
  const { batch: B, chunk: T, hidden: H, paramCount: P } = ref;
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  assert.equal(bin.length, 4 * P + 2 * 4 * B * H + 8 * P);
  const f32 = (at: number, n: number): Float64Array => Float64Array.from({ length: n }, (_, i) => view.getFloat32(at + 4 * i, true));
  const params = f32(0, P);
  const h0 = f32(4 * P, B * H);
  const c0 = f32(4 * P + 4 * B * H, B * H);
  const gradAt = 4 * P + 8 * B * H;
  const refGrad = Float64Array.from({ length: P }, (_, i) => view.getFloat64(gradAt + 8 * i, true));

  const cfg: LstmConfig = {
    fields: [{ name: 'syscall', vocab: ref.vocab, dim: ref.embed, encoding: 'learned' }], positionDim: 0,
    hidden: H, layers: 1, chunk: T, batch: B, epochs: 1, patience: 0, lr: 1e-3, warmupSteps: 0, weightDecay: 0,
    clipNorm: 0, labelSmoothing: ref.labelSmoothing, dropout: 0, threads: 2, seed: 1,
  };
  const g = new Graph('float64');
  const { loss } = lstmLoss(g, cfg, B, T);
  // Same parameter layout as the reference (names, shapes, order).
  assert.deepEqual(g.params.map((p) => ({ name: p.name, shape: [...p.shape] })), ref.layout);
  assert.equal(g.paramCount, P);
  const grads = gradients(g, loss, g.params.map((p) => p.value));
  const flat = g.concat(grads.map((gr) => g.reshape(gr, [size(gr.shape)])), 0); // [P]
  const session = await createSession(g.toModel({ loss, grad: flat }), 2);
  const out = await session.run({
    params: new ort.Tensor('float64', params, [P]),
    tok_syscall: new ort.Tensor('int64', BigInt64Array.from(ref.tokens, BigInt), [B, T]),
    targets: new ort.Tensor('int64', BigInt64Array.from(ref.targets, BigInt), [B, T]),
    h0: new ort.Tensor('float64', h0, [1, B, H]),
    c0: new ort.Tensor('float64', c0, [1, B, H]),
  });
  await session.release();

  const ourLoss = (out['loss']!.data as Float64Array)[0]!;
  t.diagnostic(`loss ${ourLoss} vs PyTorch ${ref.loss} (relative ${(Math.abs(ourLoss / ref.loss - 1)).toExponential(2)})`);
  assert.ok(Math.abs(ourLoss - ref.loss) <= 1e-9 * ref.loss, `loss ${ourLoss} vs PyTorch ${ref.loss}`);
  const ours = out['grad']!.data as Float64Array;
  for (const r of assertParamGradients(g.params, ours, refGrad, 1e-9)) {
    t.diagnostic(`${r.name}: max |ours - PyTorch| / max |grad| = ${r.relative.toExponential(2)}`);
  }
  // Elementwise too, wherever the gradient is not tiny.
  let worstRel = 0;
  for (let i = 0; i < P; i++) if (Math.abs(refGrad[i]!) > 1e-8) worstRel = Math.max(worstRel, Math.abs(ours[i]! / refGrad[i]! - 1));
  t.diagnostic(`worst elementwise relative difference ${worstRel.toExponential(2)}`);
  assert.ok(worstRel < 1e-6, `worst elementwise relative difference ${worstRel.toExponential(2)}`);
});
