/**
 * JSON.parse keeps the last of duplicate keys silently; a safetensors header (or an index's
 * weight_map) with a repeated name is ambiguous, so cogen rejects it. This module parses JSON
 * and reports duplicate keys at any depth, and returns the top-level keys in file order
 * (JavaScript objects put integer-like keys first, which would lose the file's order).
 */
export type StrictJsonResult =
  | { ok: true; value: unknown; topLevelKeys: string[] }
  | { ok: false; problem: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function parseJsonStrict(text: string): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `invalid JSON (${(error as Error).message})` };
  }
  // The text is valid JSON now, so a light scan suffices: track which containers are objects and
  // whether the next string is a key.
  const stack: (Set<string> | null)[] = [];
  const topLevelKeys: string[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      while (text.charCodeAt(j) !== QUOTE) j += text.charCodeAt(j) === BACKSLASH ? 2 : 1;
      if (expectKey) {
        const raw = text.slice(i, j + 1);
        const key = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        const keys = stack[stack.length - 1] as Set<string>;
        if (keys.has(key)) return { ok: false, problem: `duplicate key ${JSON.stringify(key)}` };
        keys.add(key);
        if (stack.length === 1) topLevelKeys.push(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
  return { ok: true, value, topLevelKeys };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
