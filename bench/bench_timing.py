"""Steady-state timing shared by the PyTorch bench scripts (bench/lstm_torch.py, bench/transformer_torch.py).

The same measurement as src/bench/util.ts timedSteps: 3 warm-up steps, then steps for `seconds`; the rate in the
JSON shape src/bench/util.ts TorchRate reads. Inputs come from `pool` (src/bench/util.ts inputPool): drawn before
timing, so a step times the model only.
"""
import time


INPUT_POOL = 8  # as src/bench/util.ts INPUT_POOL


def pool(make):
    """INPUT_POOL values made now by make(), then a function handing them out in turn."""
    items = [make() for _ in range(INPUT_POOL)]
    state = [0]

    def take():
        state[0] += 1
        return items[(state[0] - 1) % len(items)]
    return take


def timed(step, seconds: float, tokens: int) -> dict:
    """Runs step() 3 times, then for `seconds`; `tokens` = tokens per step."""
    for _ in range(3):
        step()
    steps, best = 0, float('inf')
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
        steps += 1
    elapsed = time.perf_counter() - start
    return {'tokens_per_s': tokens * steps / elapsed, 'steps': steps, 'ms_per_step': 1000 * elapsed / steps, 'best_ms': 1000 * best}
