#!/usr/bin/python3
"""bench/lstm_torch.py: the PyTorch side of `src/bench/lstm.ts` (benchLstmVsTorch).

The same LSTM language model as src/models/lstm (embedding 64, 1 LSTM layer of 128, linear to vocabulary 300),
batch 32 x chunk 64 of random tokens, on the CPU in float32:
  train: one truncated-BPTT step = forward, cross-entropy, backward, global-norm clip 1, AdamW; the state is carried
         (detached) into the next step, as ours does;
  score: forward under no_grad, log-softmax, log-probability of each target, state carried.
Times steady-state steps (after 3 warm-up steps) for about --seconds each and prints one JSON line:
  {"torch": version, "threads": n, "train": {...}, "score": {...}} with tokens_per_s, steps, ms_per_step, best_ms.
Run with Debian's python3-torch: /usr/bin/python3 bench/lstm_torch.py --seconds 10 --threads 2
"""
import argparse
import json

import torch
import torch.nn as nn

from bench_timing import pool, timed

B, T, V, E, H = 32, 64, 300, 64, 128


class Lstm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, num_layers=1, batch_first=True)
        self.out = nn.Linear(H, V)

    def forward(self, toks, state):
        y, state = self.lstm(self.emb(toks), state)  # [B, T, H]
        return self.out(y), state  # [B, T, V]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Lstm()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(9)
    state = [(torch.zeros(1, B, H), torch.zeros(1, B, H))]

    batches = pool(lambda: (torch.randint(0, V, (B, T), generator=gen), torch.randint(0, V, (B, T), generator=gen)))

    def train_step() -> None:
        toks, targets = batches()
        h, c = state[0]
        logits, (h, c) = model(toks, (h.detach(), c.detach()))
        loss = loss_fn(logits.reshape(B * T, V), targets.reshape(B * T))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state[0] = (h, c)

    def score_step() -> None:
        toks, targets = batches()
        with torch.no_grad():
            logits, st = model(toks, state[0])
            logp = torch.log_softmax(logits, -1).gather(2, targets.unsqueeze(2))  # [B, T, 1]
            state[0] = st
            float(logp.sum())

    train = timed(train_step, args.seconds, B * T)
    state[0] = (torch.zeros(1, B, H), torch.zeros(1, B, H))
    score = timed(score_step, args.seconds, B * T)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'train': train, 'score': score}))


if __name__ == '__main__':
    main()
