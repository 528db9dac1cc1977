#!/usr/bin/python3
"""bench/torch_parity.py: the PyTorch float64 reference for `src/models/lstm/parity.test.ts`.

Builds the LSTM language model of src/models/lstm at the bench's full size (vocabulary 300, embedding 64, 1 LSTM
layer of 128, linear to 300; batch 32 x chunk 64) with torch.nn (Embedding, LSTM, Linear, CrossEntropyLoss with
label smoothing 0.1 and ignore_index -1) in float64, from fixed random weights, tokens, targets (some ignored) and
non-zero initial states, and writes once, in OUR parameter layout:
  src/engine/testdata/lstm-parity.json  shapes, tokens, targets, the loss, and the binary file's layout;
  src/engine/testdata/lstm-parity.bin   float32 LE weights [P] (the float64 model uses exactly these values),
                                        float32 LE h0, c0 [1, B, H], float64 LE gradient of the loss [P].
Our layout: emb.syscall [V, E], l0.wx [E, 4H], l0.wh [H, 4H], l0.b [4H], out.w [H, V], out.b [V], gate blocks along
4H as [input, forget, output, candidate] with +1 added to the forget gate's bias; torch's LSTM uses rows
[input, forget, candidate, output] of W [4H, in], and two biases (ours goes to bias_ih, bias_hh = 0).
Run: /usr/bin/python3 bench/torch_parity.py   (needs Debian's python3-torch; the test itself needs no Python)
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn

V, E, H, B, T = 300, 64, 128, 32, 64
SMOOTHING = 0.1
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'engine', 'testdata')


def ours_to_torch(w: np.ndarray) -> np.ndarray:
    """Columns [i, f, o, c] of our [in, 4H] matrix (or a [4H] vector) to torch's rows [i, f, c, o]."""
    i, f, o, c = np.split(w, 4, axis=-1)
    return np.concatenate([i, f, c, o], axis=-1).T


def torch_to_ours(w: np.ndarray) -> np.ndarray:
    """torch's rows [i, f, c, o] of [4H, in] (or a [4H] vector) to our columns [i, f, o, c] of [in, 4H]."""
    i, f, c, o = np.split(w.T, 4, axis=-1)
    return np.concatenate([i, f, o, c], axis=-1)


def main() -> None:
    rng = np.random.default_rng(20240601)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731 (weights are float32 values, used in float64)
    layout = [('emb.syscall', [V, E]), ('l0.wx', [E, 4 * H]), ('l0.wh', [H, 4 * H]), ('l0.b', [4 * H]),
              ('out.w', [H, V]), ('out.b', [V])]
    params = {name: f32(rng.uniform(-0.25, 0.25, size=shape)) for name, shape in layout}
    params['emb.syscall'] = f32(rng.normal(0, 0.5, size=[V, E]))
    h0 = f32(rng.uniform(-0.5, 0.5, size=[1, B, H]))
    c0 = f32(rng.uniform(-0.5, 0.5, size=[1, B, H]))
    toks = rng.integers(0, V, size=[B, T])
    targets = rng.integers(0, V, size=[B, T])
    targets[rng.random([B, T]) < 0.1] = -1  # ignored positions
    targets[3, 40:] = -1  # a row that ends early

    torch.set_default_dtype(torch.float64)
    emb = nn.Embedding(V, E)
    lstm = nn.LSTM(E, H, num_layers=1, batch_first=True)
    out = nn.Linear(H, V)
    d = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    forget = np.zeros(4 * H)
    forget[H:2 * H] = 1
    with torch.no_grad():
        emb.weight.copy_(d(params['emb.syscall']))
        lstm.weight_ih_l0.copy_(d(ours_to_torch(params['l0.wx'])))
        lstm.weight_hh_l0.copy_(d(ours_to_torch(params['l0.wh'])))
        lstm.bias_ih_l0.copy_(d(ours_to_torch(params['l0.b'].astype(np.float64) + forget)))
        lstm.bias_hh_l0.zero_()
        out.weight.copy_(d(params['out.w'].T))
        out.bias.copy_(d(params['out.b']))
    y, _ = lstm(emb(torch.tensor(toks)), (d(h0), d(c0)))  # [B, T, H]
    logits = out(y)  # [B, T, V]
    loss = nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=SMOOTHING)(logits.reshape(B * T, V), torch.tensor(targets).reshape(B * T))
    loss.backward()

    g = lambda p: p.grad.detach().numpy()  # noqa: E731
    grads = {
        'emb.syscall': g(emb.weight),
        'l0.wx': torch_to_ours(g(lstm.weight_ih_l0)),
        'l0.wh': torch_to_ours(g(lstm.weight_hh_l0)),
        'l0.b': torch_to_ours(g(lstm.bias_ih_l0)),
        'out.w': g(out.weight).T,
        'out.b': g(out.bias),
    }
    assert np.allclose(g(lstm.bias_ih_l0), g(lstm.bias_hh_l0))
    flat_params = np.concatenate([params[n].reshape(-1) for n, _ in layout]).astype('<f4')
    flat_grads = np.concatenate([grads[n].reshape(-1) for n, _ in layout]).astype('<f8')
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'lstm-parity.bin'), 'wb') as fh:
        fh.write(flat_params.tobytes())
        fh.write(h0.astype('<f4').tobytes())
        fh.write(c0.astype('<f4').tobytes())
        fh.write(flat_grads.tobytes())
    meta = {
        'source': 'bench/torch_parity.py', 'torch': torch.__version__,
        'vocab': V, 'embed': E, 'hidden': H, 'batch': B, 'chunk': T, 'labelSmoothing': SMOOTHING,
        'layout': [{'name': n, 'shape': s} for n, s in layout],
        'bin': ['params float32 [P]', 'h0 float32 [1, B, H]', 'c0 float32 [1, B, H]', 'grad float64 [P]'],
        'paramCount': int(flat_params.size),
        'tokens': toks.reshape(-1).tolist(), 'targets': targets.reshape(-1).tolist(),
        'loss': float(loss.item()),
    }
    with open(os.path.join(OUT, 'lstm-parity.json'), 'w') as fh:
        json.dump(meta, fh)
    print(f'loss {loss.item():.12f}; {flat_params.size} parameters; |grad| max {np.abs(flat_grads).max():.3e}')


if __name__ == '__main__':
    main()
