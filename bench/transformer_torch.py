#!/usr/bin/python3
"""bench/transformer_torch.py: the PyTorch side of `src/bench/transformer.ts`.

The same attention language models as src/models/transformer, on the CPU in float32: syscall-name embedding 64 ->
linear to d 128, one pre-norm block (4 heads, SwiGLU FFN 512), LayerNorm, linear to vocabulary 300; batch 16 x 128
random tokens. --model transformer: dense causal attention (scores [T, T], masked); --model longformer: sliding
window 64 plus the global start token, computed block by block (each block of 64 queries against its own and the
previous block's keys plus the start token's: linear in T), the same algorithm as ours.
  train: forward, cross-entropy, backward, global-norm clip 1, AdamW;
  score: forward under no_grad (inference_mode), log-softmax, log-probability of each target;
  --lengths 512,2048,8192: scoring one sequence of each length (batch 1), ms per token.
Times steady-state steps (after 3 warm-up steps) for about --seconds each; prints one JSON line.
Run with Debian's python3-torch: /usr/bin/python3 bench/transformer_torch.py --model transformer --seconds 10
"""
import argparse
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_timing import pool, timed

B, T, V, E, D, H, FFN, W = 16, 128, 300, 64, 128, 4, 512, 64


def dense_attention(q, k, v):  # [B, H, T, dh]
    t = q.shape[2]
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(~mask, float('-inf')), -1) @ v


def block_mask(t, w):
    nb = t // w
    m = torch.zeros(nb, w, 2 * w + 1, dtype=torch.bool)
    for i in range(nb):
        for r in range(w):
            tt = i * w + r
            m[i, r, 0] = tt >= w  # global start token, once outside the window
            for s in range(w):
                m[i, r, 1 + s] = i > 0 and (i - 1) * w + s > tt - w
                m[i, r, 1 + w + s] = s <= r
    return m


def blockwise_attention(q, k, v, mask):  # [B, H, T, dh], T a multiple of W
    b, h, t, dh = q.shape
    nb = t // W
    qb, kb, vb = (x.reshape(b, h, nb, W, dh) for x in (q, k, v))
    zero = torch.zeros(b, h, 1, W, dh)
    kc = torch.cat([torch.cat([zero, kb[:, :, :-1]], 2), kb], 3)  # [b, h, nb, 2W, dh]
    vc = torch.cat([torch.cat([zero, vb[:, :, :-1]], 2), vb], 3)
    local = qb @ kc.transpose(-1, -2)  # [b, h, nb, W, 2W]
    glob = (q @ k[:, :, :1].transpose(-1, -2)).reshape(b, h, nb, W, 1)
    s = torch.cat([glob, local], -1) / math.sqrt(dh)
    p = torch.softmax(s.masked_fill(~mask, float('-inf')), -1)
    out = p[..., 1:] @ vc + p[..., :1] * v[:, :, :1].unsqueeze(2)
    return out.reshape(b, h, t, dh)


class Model(nn.Module):
    def __init__(self, longformer: bool) -> None:
        super().__init__()
        self.longformer = longformer
        self.emb = nn.Embedding(V, E)
        self.inp = nn.Linear(E, D)
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D, bias=False)
        self.wo = nn.Linear(D, D, bias=False)
        self.ln2 = nn.LayerNorm(D)
        self.w13 = nn.Linear(D, 2 * FFN, bias=False)
        self.w2 = nn.Linear(FFN, D, bias=False)
        self.lnf = nn.LayerNorm(D)
        self.out = nn.Linear(D, V)
        self.masks = {}

    def forward(self, toks):
        b, t = toks.shape
        x = self.inp(self.emb(toks))  # [B, T, D]
        q, k, v = (y.reshape(b, t, H, D // H).transpose(1, 2) for y in self.qkv(self.ln1(x)).split(D, -1))
        if self.longformer and t > W:
            if t not in self.masks:
                self.masks[t] = block_mask(t, W)
            a = blockwise_attention(q, k, v, self.masks[t])
        else:
            a = dense_attention(q, k, v)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, D))
        gate, val = self.w13(self.ln2(x)).split(FFN, -1)
        x = x + self.w2(F.silu(gate) * val)
        return self.out(self.lnf(x))  # [B, T, V]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', choices=['transformer', 'longformer'], default='transformer')
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--lengths', default='')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Model(args.model == 'longformer')
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0)
    gen = torch.Generator().manual_seed(9)

    batches = pool(lambda: (torch.randint(0, V, (B, T), generator=gen), torch.randint(0, V, (B, T), generator=gen)))

    def train_step() -> None:
        toks, targets = batches()
        loss = F.cross_entropy(model(toks).reshape(B * T, V), targets.reshape(B * T))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def score(b: int, t: int):
        inputs = pool(lambda: (torch.randint(0, V, (b, t), generator=gen), torch.randint(0, V, (b, t), generator=gen)))

        def step() -> None:
            toks, targets = inputs()
            with torch.inference_mode():
                logp = torch.log_softmax(model(toks), -1).gather(2, targets.unsqueeze(2))
                float(logp.sum())
        return step

    out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if args.lengths:
        out['lengths'] = {n: timed(score(1, int(n)), args.seconds, int(n)) for n in args.lengths.split(',')}
    else:
        out['train'] = timed(train_step, args.seconds, B * T)
        out['score'] = timed(score(B, T), args.seconds, B * T)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
