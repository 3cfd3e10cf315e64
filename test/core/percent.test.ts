import { describe, expect, it } from "vitest";
import { formatShare } from "../../src/core/percent.js";

describe("formatShare", () => {
  it("prints a share of something as a percentage", () => {
    expect(formatShare(3, 4)).toBe("75%");
    expect(formatShare(1, 3, 1)).toBe("33.3%");
    expect(formatShare(-1, 4)).toBe("-25%");
  });

  it("prints n/a for a share of nothing, never NaN% or Infinity%", () => {
    expect(formatShare(0, 0)).toBe("n/a");
    expect(formatShare(2, 0)).toBe("n/a");
    expect(formatShare(Number.NaN, 5)).toBe("n/a");
  });
});
