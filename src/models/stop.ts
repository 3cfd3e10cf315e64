/**
 * Cut a text stream at the first occurrence of any stop string. Text that could be the start of
 * a stop string is held back until it is known not to be one, so the caller never emits text it
 * would have to take back.
 */
export class StopMatcher {
  private held = "";
  private stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  get done(): boolean {
    return this.stopped;
  }

  /** Feed new text; returns the text that is safe to emit now. */
  push(text: string): string {
    if (this.stopped) return "";
    const all = this.held + text;
    let cut = -1;
    for (const stop of this.stops) {
      if (stop === "") continue;
      const at = all.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.held = "";
      return all.slice(0, cut);
    }
    const keep = this.partialSuffix(all);
    this.held = all.slice(all.length - keep);
    return all.slice(0, all.length - keep);
  }

  /** The held-back text, once the stream has ended without a stop. */
  flush(): string {
    const rest = this.stopped ? "" : this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialSuffix(text: string): number {
    let best = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, text.length); n > best; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
