/**
 * The results file as an append-only log: complete lines only, each batch fsynced, so an
 * interrupted run leaves a valid file. On resume a torn last line (no trailing newline, or not
 * JSON) is dropped, and the (model, item) pairs already written are skipped.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ConfigError, InputFileError } from "../core/errors.js";
import { resultKey, type ResultRecord } from "./result.js";

export class ResultsLog {
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly handle: fs.FileHandle,
    /** Keys (resultKey) of every result in the file. */
    readonly done: Set<string>,
    /** Bytes of a torn last line that were dropped on open. */
    readonly droppedBytes: number,
  ) {}

  /**
   * Open `file` for appending. Without `resume` an existing non-empty file is an error (nothing
   * is overwritten by accident).
   */
  static async open(file: string, resume: boolean): Promise<ResultsLog> {
    let text = "";
    try {
      text = await fs.readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new InputFileError(file, `cannot read: ${(error as Error).message}`);
    }
    if (text !== "" && !resume) {
      throw new ConfigError([`${file} already exists: pass --resume to continue it, or choose another --out`]);
    }
    const done = new Set<string>();
    let keep = 0;
    let start = 0;
    let line = 0;
    while (start < text.length) {
      line++;
      const end = text.indexOf("\n", start);
      const complete = end >= 0;
      const raw = text.slice(start, complete ? end : text.length);
      let record: Partial<ResultRecord> | undefined;
      try {
        record = JSON.parse(raw);
      } catch {
        record = undefined;
      }
      const valid = record !== undefined && typeof record.model === "string" && typeof record.item === "string";
      if (!complete || !valid) {
        // Only the last line may be torn; anything else is a file we did not write.
        if (complete && text.slice(end + 1).trim() !== "") {
          throw new InputFileError(file, "not a results line (a complete line in the middle of the file is invalid)", line);
        }
        break;
      }
      done.add(resultKey(record!.model!, record!.item!));
      start = end + 1;
      keep = start;
    }
    const bytesKept = Buffer.byteLength(text.slice(0, keep), "utf8");
    const droppedBytes = Buffer.byteLength(text, "utf8") - bytesKept;
    if (text === "") await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const handle = await fs.open(file, text === "" ? "w" : "r+");
    if (droppedBytes > 0) await handle.truncate(bytesKept);
    await handle.close();
    return new ResultsLog(file, await fs.open(file, "a"), done, droppedBytes);
  }

  has(model: string, item: string): boolean {
    return this.done.has(resultKey(model, item));
  }

  /**
   * Append the records not yet in the file (dedupe by model and item), as one write, then fsync.
   * Returns how many were written.
   */
  append(records: readonly ResultRecord[]): Promise<number> {
    const run = this.chain.then(async () => {
      const fresh: ResultRecord[] = [];
      for (const r of records) {
        const key = resultKey(r.model, r.item);
        if (this.done.has(key)) continue;
        this.done.add(key);
        fresh.push(r);
      }
      if (fresh.length === 0) return 0;
      await this.handle.write(fresh.map((r) => JSON.stringify(r) + "\n").join(""));
      await this.handle.sync();
      return fresh.length;
    });
    this.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle.close();
  }
}

/** Every complete result line of a results file (a torn last line is ignored). */
export async function readResultRecords(file: string): Promise<ResultRecord[]> {
  const text = await fs.readFile(file, "utf8");
  const records: ResultRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    if (lines[i].trim() === "") continue;
    try {
      records.push(JSON.parse(lines[i]) as ResultRecord);
    } catch {
      throw new InputFileError(file, "not a results line", i + 1);
    }
  }
  return records;
}
