#!/usr/bin/python3
"""bench/adfa_lstm_torch.py: an independent PyTorch check of the ADFA-LD figure of issue 4 (LSTM language model,
trained on Training_Data_Master only, ROC AUC of normal Validation_Data_Master vs Attack_Data_Master).

Nothing here is shared with the TypeScript side: its own zip reader, vocabulary, model, training loop and scoring.
It answers one question: does an LSTM language model built the usual way (whole traces read in order with the
state carried, Adam, dropout, early stopping on held-out training traces) reach AUC 0.90 on this protocol when it is
not our engine that trains it? Kim et al. (2016) report 0.928 for an ensemble of three LSTMs (one layer of 200,
one of 400, two of 400); `--config` picks those sizes, and `--ensemble` averages the members' z-scored log
perplexities, as `evaluate --model a/ --model b/` does.

  [B, T] token ids → Embedding [B, T, E] → LSTM (L layers, H) [B, T, H] → Dropout → Linear [B, T, V]

Tokens: <pad> 0, <unk> 1, <s> 2, </s> 3, then the syscall numbers seen in training (min count 1); each trace is
<s> x1 … xn </s>, predicted from x1 on; a trace's score is its mean negative log-likelihood (ln perplexity).
One trace in ten of Training is held out (positions 9, 19, …, in name order), as `train` does without --valid.

Run with Debian's python3-torch (OpenBLAS, as the bench sets it up):
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/adfa_lstm_torch.py --config kim200 --threads 2
  /usr/bin/python3 bench/adfa_lstm_torch.py --config kim200,kim400,kim2x400 --ensemble
Prints a line per epoch, then one JSON line per model (and for the ensemble) with the AUC overall and per kind.
"""
import argparse
import json
import math
import random
import re
import sys
import time
import zipfile

import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score

CONFIGS = {
    # name: (embedding, hidden, layers)
    'ours': (64, 128, 1),      # the shape of `train --model lstm`'s defaults
    'kim200': (64, 200, 1),
    'kim400': (64, 400, 1),
    'kim2x400': (64, 400, 2),
}


def read_adfa(path):
    """{set: [(name, kind, [syscall numbers])]} for Training, Validation and Attack, in name order."""
    sets = {'train': [], 'valid': [], 'attack': []}
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if not name.endswith('.txt'):
                continue
            parts = name.split('/')
            top = next((p for p in parts if p.endswith('_Data_Master')), None)
            if top is None:
                continue
            calls = [int(t) for t in z.read(name).split()]
            if not calls:
                continue
            if top == 'Training_Data_Master':
                sets['train'].append((name, 'normal', calls))
            elif top == 'Validation_Data_Master':
                sets['valid'].append((name, 'normal', calls))
            elif top == 'Attack_Data_Master':
                folder = parts[parts.index(top) + 1]
                sets['attack'].append((name, re.sub(r'_\d+$', '', folder), calls))
    return sets


class Lm(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, dropout):
        super().__init__()
        self.emb = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        e = self.drop(self.emb(x))  # [B, T, E]
        y, state = self.lstm(e, state)  # [B, T, H]
        return self.out(self.drop(y)), state  # [B, T, V]


def encode(calls, ids):
    return [2] + [ids.get(c, 1) for c in calls] + [3]


def batches(seqs, size, shuffle):
    """Batches of similar length (less padding): sorted by length, cut into `size`, batch order shuffled."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    groups = [order[i:i + size] for i in range(0, len(order), size)]
    if shuffle:
        random.shuffle(groups)
    for g in groups:
        longest = max(len(seqs[i]) for i in g) - 1
        x = torch.zeros(len(g), longest, dtype=torch.long)
        y = torch.zeros(len(g), longest, dtype=torch.long)
        for r, i in enumerate(g):
            s = seqs[i]
            x[r, :len(s) - 1] = torch.tensor(s[:-1])
            y[r, :len(s) - 1] = torch.tensor(s[1:])
        yield g, x, y, torch.tensor([len(seqs[i]) - 1 for i in g])


def chunks(x, y, chunk):
    """The time axis cut into pieces of `chunk`: the state is carried from one to the next (detached in training)."""
    for t in range(0, x.shape[1], chunk):
        yield x[:, t:t + chunk], y[:, t:t + chunk]


def mean_nll(model, seqs, chunk, size=32):
    """Each sequence's mean negative log-likelihood (nats per predicted token)."""
    model.eval()
    out = [0.0] * len(seqs)
    loss = nn.CrossEntropyLoss(ignore_index=0, reduction='none')
    with torch.no_grad():
        for g, x, y, lengths in batches(seqs, size, False):
            total = torch.zeros(len(g))
            state = None
            for xc, yc in chunks(x, y, chunk):
                logits, state = model(xc, state)  # [B, t, V]
                total += loss(logits.reshape(-1, logits.shape[-1]), yc.reshape(-1)).reshape(yc.shape).sum(1)
            for r, i in enumerate(g):
                out[i] = float(total[r]) / int(lengths[r])
    return out


def fit(cfg, train, held, vocab, args):
    embed, hidden, layers = CONFIGS[cfg]
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    model = Lm(vocab, embed, hidden, layers, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss = nn.CrossEntropyLoss(ignore_index=0)
    best, best_state, bad = math.inf, None, 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0, tokens = time.time(), 0
        for _, x, y, lengths in batches(train, args.batch, True):
            state = None
            for xc, yc in chunks(x, y, args.chunk):
                if not bool((yc != 0).any()):
                    break  # every trace of the batch has ended
                opt.zero_grad()
                logits, state = model(xc, state)
                state = tuple(s.detach() for s in state)
                l = loss(logits.reshape(-1, logits.shape[-1]), yc.reshape(-1))
                l.backward()
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                opt.step()
            tokens += int(lengths.sum())
        held_nll = mean_nll(model, held, args.chunk)
        h = sum(held_nll) / len(held_nll)
        print(f'{cfg} epoch {epoch}: held-out mean nll {h:.4f}, {tokens / (time.time() - t0):,.0f} tokens/s',
              file=sys.stderr, flush=True)
        if h < best - 1e-4:
            best, best_state, bad = h, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            bad += 1
            if bad >= args.patience:
                break
    model.load_state_dict(best_state)
    return model, best


def aucs(normal, attack, kinds):
    """Overall and per-kind ROC AUC of attack (positive) against normal scores."""
    out = {'all': roc_auc_score([0] * len(normal) + [1] * len(attack), normal + attack)}
    for k in sorted(set(kinds)):
        a = [s for s, kk in zip(attack, kinds) if kk == k]
        out[k] = roc_auc_score([0] * len(normal) + [1] * len(a), normal + a)
    return {k: round(v, 4) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--zip', default='../shared/data/adfa-ld/ADFA-LD.zip')
    ap.add_argument('--config', default='kim200', help=f'comma-separated, of {", ".join(CONFIGS)}')
    ap.add_argument('--ensemble', action='store_true', help='also the z ensemble of the configs')
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--patience', type=int, default=3)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--chunk', type=int, default=100, help='truncated back-propagation: steps per update, state carried')
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--dropout', type=float, default=0.5)
    ap.add_argument('--clip', type=float, default=5.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    sets = read_adfa(args.zip)
    fit_traces = [c for i, (_, _, c) in enumerate(sets['train']) if i % 10 != 9]
    held_traces = [c for i, (_, _, c) in enumerate(sets['train']) if i % 10 == 9]
    ids = {}
    for t in fit_traces:
        for c in t:
            ids.setdefault(c, len(ids) + 4)
    vocab = len(ids) + 4
    train = [encode(t, ids) for t in fit_traces]
    held = [encode(t, ids) for t in held_traces]
    valid = [encode(c, ids) for _, _, c in sets['valid']]
    attack = [encode(c, ids) for _, _, c in sets['attack']]
    kinds = [k for _, k, _ in sets['attack']]
    print(f'{len(train)} training traces ({sum(map(len, train)):,} tokens), {len(held)} held out, vocabulary {vocab}; '
          f'{len(valid)} validation, {len(attack)} attack', file=sys.stderr, flush=True)

    zs_normal, zs_attack = [], []
    for cfg in args.config.split(','):
        t0 = time.time()
        model, best = fit(cfg, train, held, vocab, args)
        held_nll = mean_nll(model, held, args.chunk)
        n = mean_nll(model, valid, args.chunk)
        a = mean_nll(model, attack, args.chunk)
        params = sum(p.numel() for p in model.parameters())
        print(json.dumps({'model': cfg, 'params': params, 'held_out_nll': round(best, 4), 'seconds': round(time.time() - t0),
                          'auc': aucs(n, a, kinds), 'settings': vars(args)}), flush=True)
        # z against the held-out training traces, as the project's ensembles z-score against normal validation
        mu = sum(held_nll) / len(held_nll)
        sd = (sum((x - mu) ** 2 for x in held_nll) / len(held_nll)) ** 0.5 or 1.0
        zs_normal.append([(x - mu) / sd for x in n])
        zs_attack.append([(x - mu) / sd for x in a])
    if args.ensemble and len(zs_normal) > 1:
        m = len(zs_normal)
        n = [sum(z[i] for z in zs_normal) / m for i in range(len(valid))]
        a = [sum(z[i] for z in zs_attack) / m for i in range(len(attack))]
        print(json.dumps({'model': 'ensemble(' + args.config + ')', 'auc': aucs(n, a, kinds)}), flush=True)


if __name__ == '__main__':
    main()
