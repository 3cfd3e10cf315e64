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
  const pairs = counts.i.length;
  const won = new Float64Array(n);
  const lost = new Float64Array(n);
  // "Did not lose to" edges in both directions, as adjacency lists in flat arrays (it runs once per
  // bootstrap round, so no per-model arrays).
  const forward = new EdgeLists(n, pairs);
  const backward = new EdgeLists(n, pairs);
  for (let pass = 0; pass < 2; pass++) {
    for (let p = 0; p < pairs; p++) {
      const i = counts.i[p];
      const j = counts.j[p];
      const t = counts.ties[p];
      if (pass === 0) {
        won[i] += counts.winsI[p] + t;
        won[j] += counts.winsJ[p] + t;
        lost[i] += counts.winsJ[p] + t;
        lost[j] += counts.winsI[p] + t;
      }
      if (counts.winsI[p] + t > 0) {
        forward.add(pass, i, j);
        backward.add(pass, j, i);
      }
      if (counts.winsJ[p] + t > 0) {
        forward.add(pass, j, i);
        backward.add(pass, i, j);
      }
    }
    if (pass === 0) {
      forward.allocate();
      backward.allocate();
    }
  }
  const neverWon: number[] = [];
  const neverLost: number[] = [];
  for (let m = 0; m < n; m++) {
    if (won[m] === 0) neverWon.push(m);
    if (lost[m] === 0) neverLost.push(m);
  }
  return { finite: forward.reachesAll() && backward.reachesAll(), neverWon, neverLost };
}

/** Directed edges grouped by source: counted in pass 0, placed in pass 1. */
class EdgeLists {
  private readonly offset: Int32Array;
  private readonly fill: Int32Array;
  private readonly target: Int32Array;

  constructor(
    private readonly n: number,
    pairs: number,
  ) {
    this.offset = new Int32Array(n + 1);
    this.fill = new Int32Array(n);
    this.target = new Int32Array(2 * pairs);
  }

  add(pass: number, from: number, to: number): void {
    if (pass === 0) this.offset[from + 1]++;
    else this.target[this.offset[from] + this.fill[from]++] = to;
  }

  /** Turn the counts into starting offsets. */
  allocate(): void {
    for (let v = 0; v < this.n; v++) this.offset[v + 1] += this.offset[v];
  }

  /** Whether every node is reached from node 0. */
  reachesAll(): boolean {
    const n = this.n;
    if (n === 0) return true;
    const seen = new Uint8Array(n);
    const stack = new Int32Array(n);
    let top = 0;
    stack[top++] = 0;
    seen[0] = 1;
    let count = 1;
    while (top > 0) {
      const x = stack[--top];
      for (let e = this.offset[x]; e < this.offset[x + 1]; e++) {
        const y = this.target[e];
        if (!seen[y]) {
          seen[y] = 1;
          count++;
          stack[top++] = y;
        }
      }
    }
    return count === n;
  }
}
