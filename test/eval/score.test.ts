import { describe, expect, it } from "vitest";
import { bitsPerByte, exactMatch, scoreMultipleChoice } from "../../src/eval/score.js";

const ll = (logprob: number) => ({ logprob, tokens: 1, bytes: 1, greedy: false });

describe("scoring as lm-evaluation-harness does", () => {
  it("acc picks the highest log-likelihood; acc_norm divides by the choice's length in characters", () => {
    // " a" (2 chars) at -2 vs " bbbbbb" (7 chars) at -3: acc picks 0; per char -1 vs -0.43 picks 1.
    const s = scoreMultipleChoice([ll(-2), ll(-3)], [" a", " bbbbbb"], 1);
    expect(s).toEqual({ acc: 0, accNorm: 1, pred: 0, predNorm: 1 });
  });

  it("counts characters as code points (Python's len), not UTF-16 units or bytes", () => {
    // "😀😀" is 2 characters (4 UTF-16 units, 8 bytes): -1 per char vs "abc" -0.9 per char.
    const s = scoreMultipleChoice([ll(-2), ll(-2.7)], ["😀😀", "abc"], 1);
    expect(s.predNorm).toBe(1);
    const t = scoreMultipleChoice([ll(-1.7), ll(-2.7)], ["😀😀", "abc"], 0);
    expect(t.predNorm).toBe(0);
  });

  it("breaks ties toward the first choice (numpy argmax)", () => {
    expect(scoreMultipleChoice([ll(-1), ll(-1)], ["a", "b"], 1).acc).toBe(0);
  });

  it("bits per byte is −logprob / ln 2 / bytes", () => {
    expect(bitsPerByte(-Math.LN2 * 8, 4)).toBeCloseTo(2, 12);
    expect(() => bitsPerByte(-1, 0)).toThrow(RangeError);
  });

  it("exact match trims whitespace and accepts any listed answer", () => {
    expect(exactMatch(" 42 ", ["41", "42"])).toBe(1);
    expect(exactMatch("42.", ["42"])).toBe(0);
  });
});
