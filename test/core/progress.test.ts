import { describe, expect, it } from "vitest";
import { formatSeconds } from "../../src/core/progress.js";

describe("formatSeconds (the progress bar's ETA)", () => {
  it("rounds to whole seconds before splitting into minutes", () => {
    expect(formatSeconds(0.4)).toBe("0s");
    expect(formatSeconds(42.2)).toBe("42s");
    expect(formatSeconds(59.6)).toBe("1m00s");
    expect(formatSeconds(119.6)).toBe("2m00s");
    expect(formatSeconds(185)).toBe("3m05s");
    expect(formatSeconds(3725)).toBe("62m05s");
  });

  it("reads ? when there is no estimate yet", () => {
    expect(formatSeconds(Infinity)).toBe("?");
    expect(formatSeconds(NaN)).toBe("?");
  });
});
