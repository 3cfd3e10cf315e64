import { describe, expect, it } from "vitest";
import { parseTasks } from "../../src/formats/tasks.js";

describe("task items (JSONL)", () => {
  it("reads the three kinds, with defaults", () => {
    const items = parseTasks([
      JSON.stringify({ id: "q1", domain: "geo", context: "Capital:", choices: [" Paris", " Rome"], answer: 0 }),
      "",
      JSON.stringify({ id: 2, context: "x", choices: ["a", "b"], answer: "b", task: "t" }),
      JSON.stringify({ id: "t1", text: "hello" }),
      JSON.stringify({ id: "e1", prompt: "2+2=", answer: ["4", "four"], max_tokens: 3 }),
    ].join("\n"), "items.jsonl");
    expect(items.map((i) => i.kind)).toEqual(["multiple_choice", "multiple_choice", "bits_per_byte", "exact_match"]);
    expect(items[1]).toMatchObject({ id: "2", answer: 1, domain: "default", task: "t" });
    expect(items[0]).toMatchObject({ task: "geo" });
    expect(items[3]).toMatchObject({ answers: ["4", "four"], maxTokens: 3 });
  });

  it.each([
    ["{not json", /items\.jsonl:2: not valid JSON/],
    [JSON.stringify({ id: "a", context: "c", choices: ["x"], answer: 0 }), /items\.jsonl:2: 'choices' must be a list of 2/],
    [JSON.stringify({ id: "a", context: "c", choices: ["x", "y"], answer: 2 }), /items\.jsonl:2: 'answer' 2 is not a choice index \(0\.\.1\)/],
    [JSON.stringify({ id: "a", context: "c", choices: ["x", "y"], answer: "z" }), /'answer' "z" is not one of the choices/],
    [JSON.stringify({ id: "q0", text: "dup" }), /items\.jsonl:2: duplicate id 'q0' \(first on line 1\)/],
    [JSON.stringify({ id: "a", foo: 1 }), /cannot tell the item's kind/],
    [JSON.stringify({ id: "a", prompt: "p", answer: [] }), /'answer' must be a string or a non-empty list/],
    [JSON.stringify({ id: "a", prompt: "p", answer: "x", max_tokens: 0 }), /'max_tokens' must be an integer/],
    [JSON.stringify({ text: "no id" }), /'id' must be a string/],
    ["[1,2]", /an item must be a JSON object/],
  ])("rejects %s with a line-numbered error", (line, message) => {
    expect(() => parseTasks(JSON.stringify({ id: "q0", text: "first" }) + "\n" + line, "items.jsonl")).toThrow(message);
  });

  it("rejects an empty file", () => {
    expect(() => parseTasks("\n\n", "e.jsonl")).toThrow(/e\.jsonl: no items/);
  });
});
