#!/usr/bin/python3
"""bench/transformer_torch_parity.py: the PyTorch float64 reference for `src/models/transformer/parity.test.ts`.

Builds the attention language model of src/models/transformer with torch (Embedding, sinusoidal codes, pre-norm
blocks of multi-head attention with an explicit visibility mask and SwiGLU, LayerNorm, Linear, CrossEntropyLoss
with label smoothing 0.1 and ignore_index -1) in float64, from fixed random weights, tokens, positions and targets
(some ignored), for two configs:
  transformer: window 64 > T (plain causal attention; our graph takes its dense path);
  longformer:  window 4 < T with the global start token (our graph takes its blockwise path; here a dense mask).
and writes once, in OUR parameter layout:
  src/models/transformer/testdata/<name>-parity.json  config, layout, tokens, positions, targets, the loss;
  src/models/transformer/testdata/<name>-parity.bin   float32 LE weights [P] (used exactly in float64), float64 LE
                                                      gradient of the loss [P].
Visibility (the rule of src/models/attention.ts): position t sees j when j <= t and (j > t - w or (global and j == 0)).
Run: /usr/bin/python3 bench/transformer_torch_parity.py   (needs Debian's python3-torch; the test needs no Python)
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'models', 'transformer', 'testdata')
V, DT_VOCAB, NAME_DIM, DT_DIM, POS_DIM = 30, 12, 8, 4, 4
D, L, H, FFN = 16, 2, 2, 24
B, T = 3, 12
SMOOTHING = 0.1


def layout():
    e = NAME_DIM + DT_DIM + POS_DIM
    out = [('emb.name', [V, NAME_DIM]), ('in.w', [e, D]), ('in.b', [D])]
    for l in range(L):
        out += [(f'l{l}.ln1.g', [D]), (f'l{l}.ln1.b', [D]), (f'l{l}.wqkv', [D, 3 * D]), (f'l{l}.wo', [D, D]),
                (f'l{l}.ln2.g', [D]), (f'l{l}.ln2.b', [D]), (f'l{l}.w13', [D, 2 * FFN]), (f'l{l}.w2', [FFN, D])]
    return out + [('lnf.g', [D]), ('lnf.b', [D]), ('out.w', [D, V]), ('out.b', [V])]


def sinusoidal(ids, d):
    w = torch.tensor([10000 ** (-(2 * k) / d) for k in range(d // 2)], dtype=torch.float64)
    angle = ids.to(torch.float64).unsqueeze(-1) * w  # [B, T, d/2]
    return torch.cat([torch.sin(angle), torch.cos(angle)], -1)  # [B, T, d]


def visible(w, global_start):
    m = torch.zeros(T, T, dtype=torch.bool)
    for t in range(T):
        for j in range(T):
            m[t, j] = j <= t and (j > t - w or (global_start and j == 0))
    return m


def loss_of(p, name_ids, dt_ids, pos, targets, mask):
    x = torch.cat([p['emb.name'][name_ids], sinusoidal(dt_ids, DT_DIM), sinusoidal(pos, POS_DIM)], -1)  # [B, T, E]
    x = x @ p['in.w'] + p['in.b']  # [B, T, D]
    dh = D // H
    for l in range(L):
        a = F.layer_norm(x, [D], p[f'l{l}.ln1.g'], p[f'l{l}.ln1.b'], 1e-5)
        q, k, v = (y.reshape(B, T, H, dh).transpose(1, 2) for y in (a @ p[f'l{l}.wqkv']).split(D, -1))  # [B, H, T, dh]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        s = s.masked_fill(~mask, float('-inf'))
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + o @ p[f'l{l}.wo']
        f = F.layer_norm(x, [D], p[f'l{l}.ln2.g'], p[f'l{l}.ln2.b'], 1e-5)
        gate, val = (f @ p[f'l{l}.w13']).split(FFN, -1)
        x = x + (F.silu(gate) * val) @ p[f'l{l}.w2']
    logits = F.layer_norm(x, [D], p['lnf.g'], p['lnf.b'], 1e-5) @ p['out.w'] + p['out.b']
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), ignore_index=-1, label_smoothing=SMOOTHING)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, window, global_start, seed in [('transformer', 64, False, 1), ('longformer', 4, True, 2)]:
        rng = np.random.default_rng(20240700 + seed)
        lay = layout()
        params = {}
        for n, shape in lay:
            if n.endswith('.g'):
                params[n] = 1 + rng.normal(0, 0.2, size=shape)
            elif n.endswith('.b'):
                params[n] = rng.normal(0, 0.2, size=shape)
            else:
                params[n] = rng.normal(0, 0.5, size=shape)
        params = {n: a.astype(np.float32) for n, a in params.items()}
        name_ids = rng.integers(0, V, size=[B, T])
        dt_ids = rng.integers(0, DT_VOCAB, size=[B, T])
        pos = np.tile(np.arange(T), (B, 1)) + np.array([[0], [0], [40]])  # the last row sits later in its sequence
        targets = rng.integers(0, V, size=[B, T])
        targets[rng.random([B, T]) < 0.15] = -1
        p = {n: torch.tensor(a.astype(np.float64), requires_grad=True) for n, a in params.items()}
        loss = loss_of(p, torch.tensor(name_ids), torch.tensor(dt_ids), torch.tensor(pos), torch.tensor(targets), visible(window, global_start))
        loss.backward()
        flat_params = np.concatenate([params[n].reshape(-1) for n, _ in lay]).astype('<f4')
        flat_grads = np.concatenate([p[n].grad.numpy().reshape(-1) for n, _ in lay]).astype('<f8')
        with open(os.path.join(OUT, f'{name}-parity.bin'), 'wb') as fh:
            fh.write(flat_params.tobytes())
            fh.write(flat_grads.tobytes())
        meta = {
            'source': 'bench/transformer_torch_parity.py', 'torch': torch.__version__,
            'vocab': V, 'dtVocab': DT_VOCAB, 'nameDim': NAME_DIM, 'dtDim': DT_DIM, 'positionDim': POS_DIM,
            'width': D, 'layers': L, 'heads': H, 'ffn': FFN, 'window': window, 'globalStart': global_start,
            'batch': B, 'length': T, 'labelSmoothing': SMOOTHING,
            'layout': [{'name': n, 'shape': s} for n, s in lay], 'paramCount': int(flat_params.size),
            'bin': ['params float32 [P]', 'grad float64 [P]'],
            'name': name_ids.reshape(-1).tolist(), 'dt': dt_ids.reshape(-1).tolist(), 'pos': pos.reshape(-1).tolist(),
            'targets': targets.reshape(-1).tolist(), 'loss': float(loss.item()),
        }
        with open(os.path.join(OUT, f'{name}-parity.json'), 'w') as fh:
            json.dump(meta, fh)
        print(f'{name}: loss {loss.item():.12f}; {flat_params.size} parameters; |grad| max {np.abs(flat_grads).max():.3e}')


if __name__ == '__main__':
    main()
