/**
 * The two OCP 8-bit float formats (OCP FP8 spec, 2023), decoded through 256-entry tables.
 *
 * - E4M3 ("E4M3FN"; safetensors F8_E4M3, torch.float8_e4m3fn): sign, 4 exponent bits (bias 7),
 *   3 mantissa bits. No infinities; S.1111.111 is NaN, so the largest finite value is 448.
 * - E5M2 (safetensors F8_E5M2, torch.float8_e5m2): sign, 5 exponent bits (bias 15), 2 mantissa
 *   bits, IEEE-like: exponent 31 holds ±infinity (mantissa 0) and NaN; largest finite 57344.
 *
 * Exponent 0 holds zero and subnormals in both.
 */
function decodeMinifloat(byte: number, exponentBits: number, mantissaBits: number, ieeeSpecials: boolean): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exponentMask = (1 << exponentBits) - 1;
  const mantissaMask = (1 << mantissaBits) - 1;
  const exponent = (byte >> mantissaBits) & exponentMask;
  const mantissa = byte & mantissaMask;
  const bias = (1 << (exponentBits - 1)) - 1;
  if (ieeeSpecials && exponent === exponentMask) return mantissa ? NaN : sign * Infinity;
  if (!ieeeSpecials && exponent === exponentMask && mantissa === mantissaMask) return NaN;
  const scale = 2 ** mantissaBits;
  if (exponent === 0) return sign * (mantissa / scale) * 2 ** (1 - bias);
  return sign * (1 + mantissa / scale) * 2 ** (exponent - bias);
}

function table(exponentBits: number, mantissaBits: number, ieeeSpecials: boolean): Float32Array {
  const out = new Float32Array(256);
  for (let b = 0; b < 256; b++) out[b] = decodeMinifloat(b, exponentBits, mantissaBits, ieeeSpecials);
  return out;
}

let e4m3: Float32Array | undefined;
let e5m2: Float32Array | undefined;

export function f8e4m3ToF32(src: Uint8Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = (e4m3 ??= table(4, 3, false));
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}

export function f8e5m2ToF32(src: Uint8Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = (e5m2 ??= table(5, 2, true));
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}
