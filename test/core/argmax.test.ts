import { describe, expect, it } from "vitest";
import { argmax } from "../../src/core/argmax.js";

describe("argmax", () => {
  it("finds the largest entry in plain and typed arrays", () => {
    expect(argmax([0.1, 0.7, 0.2])).toBe(1);
    expect(argmax(Float64Array.from([-3, -1, -2]))).toBe(1);
  });
  it("breaks ties toward the first index, as numpy does", () => {
    expect(argmax([2, 5, 5, 1])).toBe(1);
  });
  it("returns -1 for an empty array instead of a valid-looking index", () => {
    expect(argmax([])).toBe(-1);
  });
});
