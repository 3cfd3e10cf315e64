/**
 * Run train jobs in parallel lanes: child processes (one per core; the trainer is single
 * threaded), each running its share of the jobs in order. Jobs are dealt to lanes greedily by
 * their step counts, so lanes finish at about the same time. The lanes' stderr is passed through.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { BackendError } from "../../core/errors.js";
import type { LaneSpec } from "./lane.js";
import type { TrainJob, TrainJobResult } from "./train-job.js";

/** Split jobs into `lanes` lists balancing total steps (longest first; order kept within a lane). */
export function dealJobs(jobs: readonly TrainJob[], lanes: number): TrainJob[][] {
  const out: TrainJob[][] = Array.from({ length: Math.max(1, lanes) }, () => []);
  const load = out.map(() => 0);
  const order = jobs.map((job, i) => ({ job, i })).sort((a, b) => b.job.steps - a.job.steps || a.i - b.i);
  for (const { job } of order) {
    const lane = load.indexOf(Math.min(...load));
    out[lane].push(job);
    load[lane] += job.steps;
  }
  return out.filter((l) => l.length > 0);
}

/** The lane entry point and the node arguments that run it (tsx's loader when running from source). */
function laneCommand(): { file: string; execArgv: string[] } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(here, "lane.js");
  const ts = path.join(here, "lane.ts");
  const fromTs = import.meta.url.endsWith(".ts");
  return fromTs ? { file: ts, execArgv: ["--import", import.meta.resolve("tsx")] } : { file: js, execArgv: [] };
}

export async function runLanes(jobs: readonly TrainJob[], lanes: number, workDir: string): Promise<TrainJobResult[]> {
  const dealt = dealJobs(jobs, lanes);
  const { file, execArgv } = laneCommand();
  await fs.mkdir(workDir, { recursive: true });
  const runs = dealt.map(async (laneJobs, i) => {
    const spec: LaneSpec = { jobs: laneJobs, results: path.join(workDir, `lane-${i}.results.json`) };
    const specFile = path.join(workDir, `lane-${i}.json`);
    await fs.writeFile(specFile, JSON.stringify(spec));
    await fs.rm(spec.results, { force: true });
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [...execArgv, file, specFile], { stdio: ["ignore", "inherit", "inherit"] });
      child.on("error", reject);
      child.on("exit", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) throw new BackendError(`zoo lane ${i}`, `exited with status ${code} (jobs: ${laneJobs.map((j) => j.id).join(", ")})`);
    return JSON.parse(await fs.readFile(spec.results, "utf8")) as TrainJobResult[];
  });
  const results = (await Promise.all(runs)).flat();
  const byId = new Map(results.map((r) => [r.id, r]));
  return jobs.map((j) => byId.get(j.id)!);
}
