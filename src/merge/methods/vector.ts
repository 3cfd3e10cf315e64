/** Small dense-vector helpers shared by the spherical methods (double-precision accumulation). */
export function dot(a: Float32Array, b: Float32Array, start = 0, end = a.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: Float32Array, start = 0, end = a.length): number {
  return Math.sqrt(dot(a, a, start, end));
}

export function subtract(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}
