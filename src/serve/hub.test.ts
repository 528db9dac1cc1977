/**
 * @module serve/hub.test
 * The dashboard's memory bounds: points and alerts beyond the limits go oldest first and are counted; for the
 * click-through, novel sequences are kept before normal ones, and the newest sequence is always kept.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type Alert, type Point } from './hub.js';
import type { Sequence } from '../features/sequences/sequence.js';

function seq(id: string): Sequence {
  return { id, events: [{ ts: 1n, cpu: 0, pid: 1, tid: 1, proc: 'p', name: 'read', phase: 'complete', args: {} }] };
}

describe('serve: hub', () => {
  it('bounds points, alerts and kept sequences, counting what it lets go', () => {
    const hub = new Hub({}, { maxPoints: 3, maxAlerts: 2, maxKeptSequences: 2 });
    try {
      const run = hub.newRun('file', 't');
      const novel = [true, false, false, true, false];
      novel.forEach((n, i) => {
        const p: Point = { key: `1:${i}`, run: 1, id: `s${i}`, x: i, perplexity: n ? 10 : 1, score: n ? 10 : 1, novel: n, events: 1 };
        hub.addPoint(run, seq(`s${i}`), p);
        if (n) hub.addAlert({ key: p.key, run: 1, id: p.id, perplexity: 10, threshold: 2, score: 10, scoreThreshold: 2, culprits: [], falco: {} as Alert['falco'] });
      });
      hub.addAlert({ key: '1:9', run: 1, id: 'x', perplexity: 10, threshold: 2, score: 10, scoreThreshold: 2, culprits: [], falco: {} as Alert['falco'] });
      const snap = hub.snapshot() as { points: Point[]; alerts: Alert[] };
      assert.deepEqual(snap.points.map((p) => p.key), ['1:2', '1:3', '1:4']);
      assert.deepEqual(snap.alerts.map((a) => a.key), ['1:3', '1:9']);
      assert.deepEqual(hub.dropped, { points: 2, alerts: 1, sequences: 3 });
      assert.equal(run.sequences, 5);
      assert.equal(run.novel, 2);
      // Kept: the newest (normal) one, and the newest novel one before it.
      assert.deepEqual(['1:0', '1:1', '1:2', '1:3', '1:4'].filter((k) => hub.sequence(k) !== undefined), ['1:3', '1:4']);
    } finally {
      hub.close();
    }
  });
});
