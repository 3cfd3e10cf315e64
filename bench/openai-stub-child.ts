/** The stub OpenAI-compatible server in its own process (for benches): prints its URL, runs until killed. */
import { startStub } from "../test/models/openai-stub.js";

const stub = await startStub({ delayMs: Number(process.argv[2] ?? 20) });
process.stdout.write(stub.url + "\n");
// Exit normally on SIGTERM, so a --cpu-prof profile of this process is written.
process.once("SIGTERM", () => process.exit(0));
