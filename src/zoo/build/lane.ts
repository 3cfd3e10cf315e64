/**
 * A training lane: a child process that runs a list of train jobs one after another and writes
 * each job's result next to its job file. Started by lanes.ts with the path of a JSON file
 * `{ jobs: TrainJob[], results: string }`. One lane per core: the trainer uses one thread.
 */
import { promises as fs } from "node:fs";
import { writeFileAtomic } from "../../core/atomic.js";
import type { Progress } from "../../core/progress.js";
import { runTrainJob, type TrainJob, type TrainJobResult } from "./train-job.js";

export interface LaneSpec {
  jobs: TrainJob[];
  /** Where the lane writes its results (JSON array), after each job. */
  results: string;
}

/** Plain progress lines on stderr, at most one per `intervalMs`, prefixed with the job id. */
function laneProgress(id: string, intervalMs = 10_000): Progress {
  let total = 0;
  let done = 0;
  let last = 0;
  return {
    start(_label, n) {
      total = n;
      done = 0;
    },
    tick(delta = 1, info) {
      done += delta;
      const now = Date.now();
      if (now - last >= intervalMs) {
        last = now;
        process.stderr.write(`${id}: step ${done}/${total} ${info ?? ""}\n`);
      }
    },
    done(summary) {
      process.stderr.write(`${id}: ${summary ?? "done"}\n`);
    },
  };
}

async function main(specFile: string): Promise<void> {
  const spec = JSON.parse(await fs.readFile(specFile, "utf8")) as LaneSpec;
  const results: TrainJobResult[] = [];
  for (const job of spec.jobs) {
    results.push(await runTrainJob(job, laneProgress(job.id)));
    await writeFileAtomic(spec.results, JSON.stringify(results, null, 2) + "\n");
  }
}

const specFile = process.argv[2];
if (!specFile) {
  process.stderr.write("usage: lane.js SPEC.json\n");
  process.exitCode = 2;
} else {
  main(specFile).catch((error: unknown) => {
    process.stderr.write(`lane failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
