/** The stub OpenAI-compatible server in its own process (for benches): prints its URL, runs until killed. */
import { startStub } from "../test/models/openai-stub.js";

const stub = await startStub({ delayMs: Number(process.argv[2] ?? 20) });
process.stdout.write(stub.url + "\n");
