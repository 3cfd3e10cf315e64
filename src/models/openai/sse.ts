/**
 * Server-sent events: split a byte stream into events and yield each event's `data` field
 * (multi-line data joined with "\n"). Comments and other fields are ignored.
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  const takeLine = (line: string): string | undefined => {
    if (line === "") {
      const event = data.length > 0 ? data.join("\n") : undefined;
      data = [];
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    return undefined;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      // A lone "\r" at the end may be the first half of "\r\n": wait for the next chunk.
      if (newline === buffer.length - 1 && buffer[newline] === "\r") break;
      const line = buffer.slice(0, newline);
      const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
      buffer = buffer.slice(newline + width);
      const event = takeLine(line);
      if (event !== undefined) yield event;
    }
  }
  buffer += decoder.decode();
  if (buffer !== "") {
    const event = takeLine(buffer);
    if (event !== undefined) yield event;
  }
  const last = takeLine("");
  if (last !== undefined) yield last;
}
