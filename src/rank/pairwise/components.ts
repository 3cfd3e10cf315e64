/**
 * Graph structure of the comparisons. Ratings are only comparable within a connected component
 * of the comparison graph; and within a component the Bradley–Terry maximum-likelihood estimate
 * is finite exactly when the "did not lose to" graph (an edge i → j when i beat or tied j at
 * least once) is strongly connected — otherwise some group of models never lost (or never won)
 * against the rest and its ratings run off to infinity.
 */
import type { PairCounts } from "./counts.js";

/** Connected components of the comparison graph as lists of model indices, largest first (ties by first model). */
export function connectedComponents(counts: PairCounts): number[][] {
  const n = counts.models.length;
  const parent = Int32Array.from({ length: n }, (_, k) => k);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (let p = 0; p < counts.i.length; p++) {
    const a = find(counts.i[p]);
    const b = find(counts.j[p]);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  }
  const groups = new Map<number, number[]>();
  for (let m = 0; m < n; m++) {
    const root = find(m);
    const group = groups.get(root);
    if (group) group.push(m);
    else groups.set(root, [m]);
  }
  return [...groups.values()].sort((x, y) => y.length - x.length || x[0] - y[0]);
}

export interface Separation {
  /** True when the MLE is finite: every model reaches every other through "did not lose to" edges. */
  finite: boolean;
  /** Models with no win and no tie. */
  neverWon: number[];
  /** Models with no loss and no tie. */
  neverLost: number[];
}

/** Whether the MLE of a connected comparison graph is finite, and which models are to blame if not. */
export function checkSeparation(counts: PairCounts): Separation {
  const n = counts.models.length;
  const won = new Float64Array(n);
  const lost = new Float64Array(n);
  const forward: number[][] = Array.from({ length: n }, () => []);
  const backward: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < counts.i.length; p++) {
    const i = counts.i[p];
    const j = counts.j[p];
    const t = counts.ties[p];
    won[i] += counts.winsI[p] + t;
    won[j] += counts.winsJ[p] + t;
    lost[i] += counts.winsJ[p] + t;
    lost[j] += counts.winsI[p] + t;
    if (counts.winsI[p] + t > 0) {
      forward[i].push(j);
      backward[j].push(i);
    }
    if (counts.winsJ[p] + t > 0) {
      forward[j].push(i);
      backward[i].push(j);
    }
  }
  const reachesAll = (edges: number[][]): boolean => {
    if (n === 0) return true;
    const seen = new Uint8Array(n);
    const stack = [0];
    seen[0] = 1;
    let count = 1;
    while (stack.length > 0) {
      const x = stack.pop()!;
      for (const y of edges[x]) {
        if (!seen[y]) {
          seen[y] = 1;
          count++;
          stack.push(y);
        }
      }
    }
    return count === n;
  };
  const neverWon: number[] = [];
  const neverLost: number[] = [];
  for (let m = 0; m < n; m++) {
    if (won[m] === 0) neverWon.push(m);
    if (lost[m] === 0) neverLost.push(m);
  }
  return { finite: reachesAll(forward) && reachesAll(backward), neverWon, neverLost };
}
