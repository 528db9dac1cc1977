/**
 * @module models/transformer/parity.test
 * Our attention network against PyTorch's float64 autograd: the same weights, tokens (a learned name field, a
 * sinusoidal time-delta field), positions and targets, loaded from the reference that
 * `bench/transformer_torch_parity.py` dumped once into `./testdata/` (no Python needed here), for a Transformer
 * (dense causal attention) and a Longformer (window 4 with the global start token: our blockwise path against
 * PyTorch's dense masked attention). Our float64 graph's loss and autodiff gradient must match: loss 1e-9 relative,
 * gradient 1e-10 relative to each parameter's largest entry (measured ~1e-14).
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
import { transformerLoss, type TransformerConfig } from './network.js';

interface Reference {
  vocab: number; dtVocab: number; nameDim: number; dtDim: number; positionDim: number;
  width: number; layers: number; heads: number; ffn: number; window: number; globalStart: boolean;
  batch: number; length: number; labelSmoothing: number;
  layout: { name: string; shape: number[] }[];
  paramCount: number;
  name: number[]; dt: number[]; pos: number[]; targets: number[];
  loss: number;
}

for (const kind of ['transformer', 'longformer'] as const) {
  test(`${kind}: loss and gradients match PyTorch float64 autograd`, async (t) => {
    const dir = join(projectRoot(), 'src', 'models', 'transformer', 'testdata');
    const ref = JSON.parse(readFileSync(join(dir, `${kind}-parity.json`), 'utf8')) as Reference;
    const bin = readFileSync(join(dir, `${kind}-parity.bin`));
    const P = ref.paramCount;
    const B = ref.batch;
    const T = ref.length;
    assert.equal(bin.length, 4 * P + 8 * P);
    const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    const params = Float64Array.from({ length: P }, (_, i) => view.getFloat32(4 * i, true));
    const refGrad = Float64Array.from({ length: P }, (_, i) => view.getFloat64(4 * P + 8 * i, true));
    const cfg: TransformerConfig = {
      fields: [
        { name: 'name', vocab: ref.vocab, dim: ref.nameDim, encoding: 'learned' },
        { name: 'dt', vocab: ref.dtVocab, dim: ref.dtDim, encoding: 'sinusoidal' },
      ],
      positionDim: ref.positionDim, width: ref.width, layers: ref.layers, heads: ref.heads, ffn: ref.ffn, window: ref.window,
      globalStart: ref.globalStart, chunk: T, batch: B, epochs: 1, patience: 0, lr: 1e-3, warmupSteps: 0, weightDecay: 0,
      clipNorm: 0, labelSmoothing: ref.labelSmoothing, dropout: 0, threads: 1, seed: 1,
    };
    const g = new Graph('float64');
    const { loss } = transformerLoss(g, cfg, B, T, false);
    assert.deepEqual(g.params.map((p) => ({ name: p.name, shape: [...p.shape] })), ref.layout);
    const grads = gradients(g, loss, g.params.map((p) => p.value));
    const flat = g.concat(grads.map((gr) => g.reshape(gr, [size(gr.shape)])), 0); // [P]
    const session = await createSession(g.toModel({ loss, grad: flat }), 1);
    const ids = (xs: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [B, T]);
    const out = await session.run({
      params: new ort.Tensor('float64', params, [P]), tok_name: ids(ref.name), tok_dt: ids(ref.dt), pos: ids(ref.pos), targets: ids(ref.targets),
    });
    await session.release();
    const ourLoss = (out['loss']!.data as Float64Array)[0]!;
    t.diagnostic(`loss ${ourLoss} vs PyTorch ${ref.loss}`);
    assert.ok(Math.abs(ourLoss - ref.loss) <= 1e-9 * ref.loss, `loss ${ourLoss} vs PyTorch ${ref.loss}`);
    const ours = out['grad']!.data as Float64Array;
    const worstAll = Math.max(...assertParamGradients(g.params, ours, refGrad, 1e-10).map((r) => r.relative));
    t.diagnostic(`worst max |ours - PyTorch| / max |grad| over parameters: ${worstAll.toExponential(2)}`);
  });
}
