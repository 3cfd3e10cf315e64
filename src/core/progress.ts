/**
 * Progress for long work: a bar with rate and ETA on a TTY, plain lines (at most one every few
 * seconds) otherwise, nothing when silenced. Library functions accept an optional `Progress`
 * so callers decide how (or whether) to show it.
 */
export interface Progress {
  /** Start a task of `total` units (bytes, items, steps). */
  start(label: string, total: number, unit?: string): void;
  /** Advance by `delta` units; `info` is shown beside the bar (for example, the loss). */
  tick(delta?: number, info?: string): void;
  done(summary?: string): void;
}

export const silentProgress: Progress = { start() {}, tick() {}, done() {} };

export interface StreamProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between plain-text lines when the stream is not a TTY. */
  plainIntervalMs?: number;
}

export function streamProgress(options: StreamProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const interactive = Boolean(stream.isTTY);
  const plainInterval = options.plainIntervalMs ?? 5000;
  let label = "";
  let unit = "";
  let total = 0;
  let done = 0;
  let started = 0;
  let lastDraw = 0;
  let info = "";

  const render = (): string => {
    const elapsed = (Date.now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const eta = rate > 0 && total > 0 ? (total - done) / rate : NaN;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const pct = (fraction * 100).toFixed(0).padStart(3);
    return `${label} ${bar} ${pct}% ${formatCount(done)}/${formatCount(total)}${unit ? " " + unit : ""} ` +
      `${formatCount(rate)}${unit ? " " + unit : ""}/s ETA ${formatSeconds(eta)}${info ? " " + info : ""}`;
  };

  return {
    start(newLabel, newTotal, newUnit = "") {
      label = newLabel;
      total = newTotal;
      unit = newUnit;
      done = 0;
      info = "";
      started = Date.now();
      lastDraw = 0;
    },
    tick(delta = 1, newInfo) {
      done += delta;
      if (newInfo !== undefined) info = newInfo;
      const now = Date.now();
      if (interactive && now - lastDraw > 100) {
        stream.write("\r\x1b[2K" + render());
        lastDraw = now;
      } else if (!interactive && now - lastDraw > plainInterval) {
        stream.write(render() + "\n");
        lastDraw = now;
      }
    },
    done(summary) {
      const elapsed = ((Date.now() - started) / 1000).toFixed(1);
      const line = `${label} done in ${elapsed}s${summary ? ": " + summary : ""}`;
      stream.write(interactive ? "\r\x1b[2K" + line + "\n" : line + "\n");
    },
  };
}

function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "?";
  if (n >= 1e9) return (n / 1e9).toFixed(2) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Whole seconds as "42s" or "3m05s" (rounded first, so 119.6 s reads 2m00s, never 1m60s). */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  return `${Math.floor(t / 60)}m${(t % 60).toString().padStart(2, "0")}s`;
}
