// Child process for llamacpp.test.ts: load a GGUF with node-llama-cpp (CPU), evaluate a few tokens,
// print "LOADED OK". Run in a child because llama.cpp aborts the whole process on some bad files.
import process from "node:process";
import { getLlama } from "node-llama-cpp";

const llama = await getLlama({ gpu: false, logLevel: "error", build: "never" });
const model = await llama.loadModel({ modelPath: process.argv[2] });
const context = await model.createContext({ contextSize: 32 });
const sequence = context.getSequence();
let evaluated = 0;
for await (const _token of sequence.evaluate(model.tokenize("abc\n"))) {
  if (++evaluated >= 3) break;
}
process.stdout.write(`LOADED OK ${evaluated}\n`);
await context.dispose();
await model.dispose();
