import { describe, expect, it } from "vitest";
import { BackendError, CogenError, ConfigError, InputFileError } from "../../src/core/errors.js";
import { MethodError } from "../../src/merge/methods/types.js";
import { GatewayError } from "../../src/serve/openai-errors.js";

describe("the error family", () => {
  it("isInstance answers for the class it is called on, not for any cogen error", () => {
    const config = new ConfigError(["x"]);
    expect(InputFileError.isInstance(config)).toBe(false);
    expect(ConfigError.isInstance(config)).toBe(true);
    expect(CogenError.isInstance(config)).toBe(true);
    expect(BackendError.isInstance(new InputFileError("f", "bad"))).toBe(false);
    expect(CogenError.isInstance(new Error("plain"))).toBe(false);
    expect(CogenError.isInstance("a string")).toBe(false);
  });

  it("GatewayError and MethodError belong to it and keep their names", () => {
    const gateway = new GatewayError(404, "not_found_error", "no such model");
    const method = new MethodError("linear: the weights sum to zero");
    expect(CogenError.isInstance(gateway)).toBe(true);
    expect(CogenError.isInstance(method)).toBe(true);
    expect(GatewayError.isInstance(method)).toBe(false);
    expect([gateway.name, method.name]).toEqual(["GatewayError", "MethodError"]);
    expect(gateway.body().error).toMatchObject({ message: "no such model", type: "not_found_error" });
  });
});
