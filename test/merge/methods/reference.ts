/**
 * Independent reference implementations of mergekit's formulas over plain number arrays, written
 * from the papers / mergekit's documented behaviour with full sorts (no shared code with src/).
 */
export type Vec = number[];

export function argsortDescAbs(d: Vec): number[] {
  return d.map((_, i) => i).sort((a, b) => Math.abs(d[b]) - Math.abs(d[a]) || a - b);
}

export function refMagnitude(d: Vec, density: number): Vec {
  if (density >= 1) return d.slice();
  const k = Math.floor(density * d.length);
  const keep = new Set(argsortDescAbs(d).slice(0, k));
  return d.map((v, i) => (keep.has(i) ? v : 0));
}

export function refOutliers(d: Vec, density: number, gamma: number): Vec {
  if (density >= 1) return d.slice();
  const n = d.length;
  const target = Math.floor(density * n);
  let top = Math.floor(gamma * n);
  if (n - target - top < 0) top = n - target;
  const order = argsortDescAbs(d);
  const keep = new Set(order.slice(top, top + target));
  return d.map((v, i) => (keep.has(i) ? v : 0));
}

export interface RefTV {
  consensus: boolean;
  sparsify?: (d: Vec, m: number) => Vec;
  normalize: boolean;
  lambda?: number;
}

export function refTaskVectors(base: Vec, xs: Vec[], weights: number[], o: RefTV): Vec {
  const deltas = xs.map((x, m) => {
    const d = x.map((v, i) => Math.fround(v - base[i]));
    return o.sparsify ? o.sparsify(d, m) : d;
  });
  const W = deltas.map((d, m) => d.map((v) => v * weights[m]));
  const lambda = o.lambda ?? 1;
  return base.map((b, i) => {
    let mixed = 0;
    let divisor = 0;
    if (o.consensus) {
      const total = W.reduce((s, w) => s + w[i], 0);
      const sign = total >= 0 ? 1 : -1;
      W.forEach((w, m) => {
        if (Math.sign(w[i]) === sign) {
          mixed += w[i];
          divisor += weights[m];
        }
      });
      if (divisor === 0) divisor = 1;
    } else {
      mixed = W.reduce((s, w) => s + w[i], 0);
      divisor = weights.reduce((a, c) => a + c, 0);
      if (Math.abs(divisor) < 1e-8) divisor = 1;
    }
    if (o.normalize) mixed /= divisor;
    return b + lambda * mixed;
  });
}

const dotp = (a: Vec, b: Vec) => a.reduce((s, v, i) => s + v * b[i], 0);
const len = (a: Vec) => Math.sqrt(dotp(a, a));

export function refSlerp(t: number, a: Vec, b: Vec): Vec {
  const c = dotp(a, b) / (len(a) * len(b));
  if (Math.abs(c) > 0.9995) return a.map((v, i) => (1 - t) * v + t * b[i]);
  const th = Math.acos(c);
  return a.map((v, i) => (Math.sin((1 - t) * th) * v + Math.sin(t * th) * b[i]) / Math.sin(th));
}

export function refModelStock(base: Vec, xs: Vec[]): Vec {
  const tvs = xs.map((x) => x.map((v, i) => v - base[i]));
  const cosines: number[] = [];
  for (let p = 0; p < tvs.length; p++) for (let q = p + 1; q < tvs.length; q++) cosines.push(dotp(tvs[p], tvs[q]) / (len(tvs[p]) * len(tvs[q])));
  const c = cosines.reduce((a, b) => a + b, 0) / cosines.length;
  const N = xs.length;
  const t = (N * c) / (1 + (N - 1) * c);
  return base.map((b, i) => t * (xs.reduce((s, x) => s + x[i], 0) / N) + (1 - t) * b);
}

export function refNearswap(t: number, a: Vec, b: Vec): Vec {
  return a.map((v, i) => {
    const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(v - b[i]), 1e-6)));
    return w * b[i] + (1 - w) * v;
  });
}

export function refMultislerp(xs: Vec[], weights: number[], base?: Vec): Vec {
  const vs = base ? xs.map((x) => x.map((v, i) => v - base[i])) : xs;
  const total = weights.reduce((a, b) => a + b, 0);
  const w = weights.map((x) => x / total);
  const norms = vs.map(len);
  const units = vs.map((v, m) => v.map((x) => x / norms[m]));
  let mean = units[0].map((_, i) => units.reduce((s, u, m) => s + u[i] * w[m], 0));
  const mn = len(mean);
  mean = mean.map((x) => x / mn);
  const tangents = units.map((u) => {
    const d = dotp(u, mean);
    return u.map((x, i) => x - d * mean[i]);
  });
  const tr = mean.map((_, i) => tangents.reduce((s, tv, m) => s + tv[i] * w[m], 0));
  const tn = len(tr);
  const avg = norms.reduce((s, x, m) => s + x * w[m], 0);
  return mean.map((x, i) => (x * Math.cos(tn) + (tr[i] * Math.sin(tn)) / tn) * avg + (base ? base[i] : 0));
}

/** Karcher mean by many fixed-point steps (converged, not truncated at 10). */
export function refKarcher(xs: Vec[]): Vec {
  const norms = xs.map(len);
  const units = xs.map((x, m) => x.map((v) => v / norms[m]));
  let u = units[0].map((_, i) => units.reduce((s, x) => s + x[i], 0) / units.length);
  u = u.map((x) => x / len(u));
  for (let it = 0; it < 200; it++) {
    const T = u.map(() => 0);
    for (const x of units) {
      const d = Math.min(1, Math.max(-1, dotp(u, x)));
      const th = Math.acos(d);
      if (th < 1e-12) continue;
      x.forEach((v, i) => (T[i] += (th / Math.sin(th) / units.length) * (v - d * u[i])));
    }
    const nt = len(T);
    if (nt < 1e-14) break;
    u = u.map((v, i) => Math.cos(nt) * v + (Math.sin(nt) * T[i]) / nt);
    const nu = len(u);
    u = u.map((v) => v / nu);
  }
  const s = norms.reduce((a, b) => a + b, 0) / xs.length;
  return u.map((v) => v * s);
}

export function refSce(base: Vec, xs: Vec[], topk: number): Vec {
  const n = base.length;
  let tvs = xs.map((x) => x.map((v, i) => v - base[i]));
  if (topk < 1) {
    const variance = base.map((_, i) => {
      const mean = tvs.reduce((s, t) => s + t[i], 0) / tvs.length;
      return tvs.reduce((s, t) => s + (t[i] - mean) ** 2, 0) / tvs.length;
    });
    const nonzero = variance.filter((v) => v !== 0).length;
    const keep = new Set(argsortDescAbs(variance).slice(0, Math.floor(nonzero * topk)));
    tvs = tvs.map((t) => t.map((v, i) => (keep.has(i) ? v : 0)));
  }
  const energy = tvs.map((t) => t.reduce((s, v) => s + v * v, 0) / n);
  const total = energy.reduce((a, b) => a + b, 0);
  const w = energy.map((e) => e / total);
  return base.map((b, i) => {
    const sign = tvs.reduce((s, t) => s + t[i], 0) >= 0 ? 1 : -1;
    let mixed = 0;
    let div = 0;
    tvs.forEach((t, m) => {
      if (Math.sign(t[i]) === sign) {
        mixed += t[i] * w[m];
        div += w[m];
      }
    });
    return b + mixed / Math.max(div, 1e-6);
  });
}

/** Slerp as nuslerp writes it: no colinearity threshold except sin θ ≈ 0. */
export function refSlerpNoThreshold(t: number, a: Vec, b: Vec): Vec {
  const c = Math.min(1, Math.max(-1, dotp(a, b) / (len(a) * len(b))));
  const th = Math.acos(c);
  if (Math.abs(Math.sin(th)) < 1e-8) return a.map((v, i) => (1 - t) * v + t * b[i]);
  return a.map((v, i) => (Math.sin((1 - t) * th) * v + Math.sin(t * th) * b[i]) / Math.sin(th));
}

/**
 * mergekit's arcee_fusion on one matrix of `rows` rows: importance |b − a| · KL(softmax(b_row) + ε ‖
 * softmax(a_row) + ε); b's value where importance ≥ median + 1.5 · (q3 − q1) (quantile at sorted
 * index ⌊q·(n − 1)⌋), a's elsewhere. Written from the description, with plain arrays.
 */
export function refArceeFusion(a: Vec, b: Vec, rows: number): Vec {
  const n = a.length / rows;
  const soft = (v: Vec): Vec => {
    const m = Math.max(...v);
    const e = v.map((x) => Math.exp(x - m));
    const s = e.reduce((x, y) => x + y, 0);
    return e.map((x) => x / s + 1e-8);
  };
  const imp: number[] = [];
  for (let r = 0; r < rows; r++) {
    const p = soft(b.slice(r * n, r * n + n));
    const q = soft(a.slice(r * n, r * n + n));
    const kl = p.reduce((s, pi, i) => s + pi * Math.log(pi / q[i]), 0);
    for (let i = 0; i < n; i++) imp.push(Math.abs(b[r * n + i] - a[r * n + i]) * kl);
  }
  const sorted = [...imp].sort((x, y) => x - y);
  const quantile = (q: number) => sorted[Math.floor(q * (sorted.length - 1))];
  const cut = quantile(0.5) + 1.5 * (quantile(0.75) - quantile(0.25));
  return a.map((v, i) => (imp[i] >= cut ? b[i] : v));
}
