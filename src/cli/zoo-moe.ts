/** `cogen zoo moe`: build the zoo's mixture-of-experts checkpoints (zoo/moe/) from a built zoo. */
import { streamProgress } from "../core/progress.js";
import { buildZooMoe } from "../fuse/moe/zoo-moe.js";
import { DEFAULT_ZOO_DIR } from "../zoo/build/manifest.js";
import { parseFlags } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen zoo moe [--zoo DIR] [--json]

Build the zoo's mixtures of experts under DIR/moe (run from the repository root after
'cogen zoo build'): a-hidden = 'cogen moe DIR/moe/hidden.yml' (family A's eight experts,
hidden-state gates, top-2), and its gates trained with 'cogen moe train-gates' on the zoo
corpora's training text (a-trained-top2, a-trained-top1). Deterministic (fixed steps and
seeds); writes DIR/moe/manifest.json with the training speed and the gate quality.

  --zoo DIR   the zoo folder (default ${DEFAULT_ZOO_DIR})
  --json      print the manifest as JSON`;

export async function runZooMoe(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { zoo: { type: "string" }, json: { type: "boolean" } }, HELP, { positionals: 0 });
  const started = Date.now();
  const log = values.json ? undefined : (line: string) => console.error(`[zoo moe ${Math.round((Date.now() - started) / 1000)}s] ${line}`);
  const manifest = await buildZooMoe({ zooDir: values.zoo ?? DEFAULT_ZOO_DIR, ...(values.json ? {} : { progress: streamProgress() }), ...(log ? { log } : {}) });
  if (values.json) {
    printJson(manifest);
    return 0;
  }
  console.log(formatTable(
    ["checkpoint", "top-k", "gates", "steps", "steps/s", "gate quality", "GGUF MB"],
    manifest.checkpoints.map((c) => [
      c.id, c.expertsPerToken, c.gates, c.training?.steps ?? "-", c.training ? c.training.stepsPerSecond.toFixed(2) : "-",
      c.gateQuality.macroShare.toFixed(3), (c.ggufBytes / 1e6).toFixed(1),
    ]),
    ["l", "r", "l", "r", "r", "r", "r"],
  ));
  return 0;
}
