"""Steady-state timing shared by the PyTorch bench scripts (bench/lstm_torch.py, bench/transformer_torch.py).

The same measurement as src/bench/util.ts timedSteps: 3 warm-up steps, then steps for `seconds`; the rate in the
JSON shape src/bench/util.ts TorchRate reads.
"""
import time


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
