import { describe, expect, it } from "vitest";
import { StopMatcher } from "../../src/models/stop.js";
import { sseData } from "../../src/models/openai/sse.js";

describe("StopMatcher", () => {
  it("cuts at a stop string split across chunks and holds back partial matches", () => {
    const m = new StopMatcher(["\n\n", "END"]);
    expect(m.push("abc\n")).toBe("abc");
    expect(m.push("x")).toBe("\nx");
    expect(m.push("EN")).toBe("");
    expect(m.push("D more")).toBe("");
    expect(m.done).toBe(true);
    expect(m.flush()).toBe("");
  });

  it("flushes held text when the stream ends without a stop", () => {
    const m = new StopMatcher(["END"]);
    expect(m.push("aE")).toBe("a");
    expect(m.flush()).toBe("E");
  });
});

async function* bytes(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

describe("sseData", () => {
  it("joins multi-line data, ignores comments, handles CRLF split across chunks", async () => {
    const out: string[] = [];
    for await (const d of sseData(bytes(": hi\r", "\ndata: a\r\ndata: b\r", "\n\r\ndata:c\n\nevent: x\ndata: {\"é\":1}"))) out.push(d);
    expect(out).toEqual(["a\nb", "c", "{\"é\":1}"]);
  });

  it("decodes UTF-8 split across chunks", async () => {
    const euro = new TextEncoder().encode("data: €\n\n");
    async function* split() {
      yield euro.slice(0, 7);
      yield euro.slice(7);
    }
    const out: string[] = [];
    for await (const d of sseData(split())) out.push(d);
    expect(out).toEqual(["€"]);
  });
});
