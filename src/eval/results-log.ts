/**
 * The results file as an append-only log: complete lines only, each batch fsynced, so an
 * interrupted run leaves a valid file. On resume a torn last line (no trailing newline) is
 * dropped, and the (model, item) pairs already written are skipped. Complete lines are read by
 * the one results reader (src/formats/results.ts): a line that is not a valid result is an error.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { isFileMissing, readFailure, readTextFile } from "../core/files.js";
import { parseResultRecords } from "../formats/results.js";
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
      if (!isFileMissing(error)) throw readFailure(file, error);
    }
    if (text !== "" && !resume) {
      throw new ConfigError([`${file} already exists: pass --resume to continue it, or choose another --out`]);
    }
    const complete = completeLines(text);
    const done = new Set(parseResultRecords(complete, file).map((r) => resultKey(r.model, r.item)));
    const bytesKept = Buffer.byteLength(complete, "utf8");
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

/** Every complete result line of a results file, validated (a torn last line is ignored). */
export async function readResultRecords(file: string): Promise<ResultRecord[]> {
  const text = await readTextFile(file);
  return parseResultRecords(completeLines(text), file);
}

/** The text up to and including its last newline: a line still being written is not read. */
function completeLines(text: string): string {
  return text.slice(0, text.lastIndexOf("\n") + 1);
}
