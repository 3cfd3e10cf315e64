/** Accumulates one source's scored texts into a top-K shard, interning token strings. */
import type { SequenceToken } from "../../core/language-model.js";
import { EMPTY_SLOT, type ShardText, type SkipReason, type TopKShard } from "../../formats/topk-shard.js";

export class ShardBuilder {
  private readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly texts: ShardText[] = [];
  private readonly end: number[] = [];
  private readonly token: number[] = [];
  private readonly logprob: number[] = [];
  private readonly topToken: number[] = [];
  private readonly topLogprob: number[] = [];

  constructor(private readonly header: { source: string; k: number; first: number; identity: string }) {}

  private intern(text: string): number {
    let id = this.index.get(text);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(text);
      this.index.set(text, id);
    }
    return id;
  }

  skip(bytes: number, reason: SkipReason): void {
    this.texts.push({ positions: 0, nats: 0, bytes, skip: reason });
  }

  add(tokens: readonly SequenceToken[], bytes: number): void {
    const k = this.header.k;
    let nats = 0;
    for (const t of tokens) {
      this.end.push(t.end);
      this.token.push(this.intern(t.text));
      this.logprob.push(t.logprob);
      if (!Number.isNaN(t.logprob)) nats -= t.logprob;
      for (let j = 0; j < k; j++) {
        const candidate = t.top[j];
        this.topToken.push(candidate ? this.intern(candidate.text) : EMPTY_SLOT);
        this.topLogprob.push(candidate ? candidate.logprob : Number.NEGATIVE_INFINITY);
      }
    }
    this.texts.push({ positions: tokens.length, nats, bytes });
  }

  build(): TopKShard {
    return {
      ...this.header,
      texts: this.texts,
      strings: this.strings,
      end: Uint32Array.from(this.end),
      token: Uint32Array.from(this.token),
      logprob: Float32Array.from(this.logprob),
      topToken: Uint32Array.from(this.topToken),
      topLogprob: Float32Array.from(this.topLogprob),
    };
  }
}
