/**
 * Truncated SVD of a dense matrix by the randomized range finder (Halko, Martinsson & Tropp 2011)
 * with power iterations: Y = (D·Dᵀ)^q·D·Ω, Q = orth(Y), then an exact SVD of the small QᵀD through
 * the Jacobi eigendecomposition of its Gram matrix. With oversampling p and q power iterations,
 * the error is close to the optimal rank-r error sqrt(Σ_{i>r} σ_i²) when the spectrum decays;
 * the tests bound it at 1.05× optimal on matrices with a known spectrum.
 */
import { Rng } from "../../core/rng.js";

export interface TruncatedSvd {
  /** [rows, r], column-major by component: u[i * r + k]. */
  u: Float64Array;
  s: Float64Array;
  /** [r, cols]: vt[k * cols + j]. */
  vt: Float64Array;
}

export interface SvdOptions {
  oversample?: number;
  powerIterations?: number;
  seed?: number;
}

/** D is [rows, cols] row-major. Returns the top `rank` singular triplets. */
export function truncatedSvd(d: Float32Array, rows: number, cols: number, rank: number, options: SvdOptions = {}): TruncatedSvd {
  const k = Math.min(rank + (options.oversample ?? 8), rows, cols);
  const q = options.powerIterations ?? 2;
  const rng = new Rng(options.seed ?? 0);
  // Y = D Ω, Ω [cols, k] Gaussian; stored column-major as k columns of length rows.
  const omega = new Float64Array(cols * k);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  let y = mulDX(d, rows, cols, omega, k);
  orthonormalize(y, rows, k);
  for (let it = 0; it < q; it++) {
    const z = mulDtX(d, rows, cols, y, k);
    orthonormalize(z, cols, k);
    y = mulDX(d, rows, cols, z, k);
    orthonormalize(y, rows, k);
  }
  // Small matrix Bm = Qᵀ D [k, cols]; Gram G = Bm Bmᵀ [k, k] = U_s Σ² U_sᵀ.
  const bm = mulDtX(d, rows, cols, y, k); // columns of length cols: bm[c*cols + j] = (Qᵀ D)[c, j]
  const g = new Float64Array(k * k);
  for (let a = 0; a < k; a++) for (let b = a; b < k; b++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += bm[a * cols + j] * bm[b * cols + j];
    g[a * k + b] = s;
    g[b * k + a] = s;
  }
  const { values, vectors } = jacobiEigen(g, k);
  const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a]).slice(0, rank);
  const r = order.length;
  const u = new Float64Array(rows * r);
  const s = new Float64Array(r);
  const vt = new Float64Array(r * cols);
  order.forEach((e, c) => {
    const sigma = Math.sqrt(Math.max(values[e], 0));
    s[c] = sigma;
    // u_c = Q · U_s[:, e]
    for (let i = 0; i < rows; i++) {
      let acc = 0;
      for (let m = 0; m < k; m++) acc += y[m * rows + i] * vectors[m * k + e];
      u[i * r + c] = acc;
    }
    // v_c = Bmᵀ U_s[:, e] / σ
    if (sigma > 0) for (let j = 0; j < cols; j++) {
      let acc = 0;
      for (let m = 0; m < k; m++) acc += bm[m * cols + j] * vectors[m * k + e];
      vt[c * cols + j] = acc / sigma;
    }
  });
  return { u, s, vt };
}

/** D [rows, cols] times X [cols, k] (column-major) → [rows, k] column-major. */
function mulDX(d: Float32Array, rows: number, cols: number, x: Float64Array, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  const acc = new Float64Array(k);
  for (let i = 0; i < rows; i++) {
    acc.fill(0);
    const off = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = d[off + j];
      if (v === 0) continue;
      for (let c = 0; c < k; c++) acc[c] += v * x[c * cols + j];
    }
    for (let c = 0; c < k; c++) out[c * rows + i] = acc[c];
  }
  return out;
}

/** Dᵀ [cols, rows] times Y [rows, k] (column-major) → [cols, k] column-major. */
function mulDtX(d: Float32Array, rows: number, cols: number, y: Float64Array, k: number): Float64Array {
  const out = new Float64Array(cols * k);
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    for (let c = 0; c < k; c++) {
      const yc = y[c * rows + i];
      if (yc === 0) continue;
      const o = c * cols;
      for (let j = 0; j < cols; j++) out[o + j] += d[off + j] * yc;
    }
  }
  return out;
}

/** Modified Gram–Schmidt, twice, on k column-major columns of length n. */
function orthonormalize(x: Float64Array, n: number, k: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < k; c++) {
      const col = x.subarray(c * n, (c + 1) * n);
      for (let p = 0; p < c; p++) {
        const prev = x.subarray(p * n, (p + 1) * n);
        let dot = 0;
        for (let i = 0; i < n; i++) dot += col[i] * prev[i];
        for (let i = 0; i < n; i++) col[i] -= dot * prev[i];
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += col[i] * col[i];
      norm = Math.sqrt(norm);
      if (norm > 1e-300) for (let i = 0; i < n; i++) col[i] /= norm;
    }
  }
}

/** Cyclic Jacobi eigendecomposition of a symmetric k×k matrix; vectors column-major-by-eigen: v[m*k+e]. */
export function jacobiEigen(a: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += m[p * k + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = m[p * k + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * k + q] - m[p * k + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const mrp = m[r * k + p];
          const mrq = m[r * k + q];
          m[r * k + p] = c * mrp - s * mrq;
          m[r * k + q] = s * mrp + c * mrq;
        }
        for (let r = 0; r < k; r++) {
          const mpr = m[p * k + r];
          const mqr = m[q * k + r];
          m[p * k + r] = c * mpr - s * mqr;
          m[q * k + r] = s * mpr + c * mqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p];
          const vrq = v[r * k + q];
          v[r * k + p] = c * vrp - s * vrq;
          v[r * k + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const values = new Float64Array(k);
  for (let i = 0; i < k; i++) values[i] = m[i * k + i];
  return { values, vectors: v };
}
