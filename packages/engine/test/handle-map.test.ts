import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HandleMap } from '../src/partition/handle-map.js';

describe('HandleMap (store handle → integer)', () => {
  it('answers as a Map does for any sequence of sets and deletes, through growth and wrap-around', () => {
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 1 << 20 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const map = new HandleMap();
        const oracle = new Map<number, number>();
        for (const [isSet, handle, local] of ops) {
          if (isSet) {
            map.set(handle, local);
            oracle.set(handle, local);
          } else {
            map.delete(handle);
            oracle.delete(handle);
          }
        }
        const wrong: number[] = [];
        for (let handle = 0; handle <= 5000; handle++) if (map.get(handle) !== (oracle.get(handle) ?? -1)) wrong.push(handle);
        expect(wrong).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
