import { ConfigError } from "../core/errors.js";
import { openModel } from "../models/open.js";
import { assertCanListen, startGateway } from "../serve/gateway.js";
import { POLICIES } from "../serve/policies.js";
import { buildServedModels, readUnifiedConfig } from "../serve/unified-config.js";
import { parseFlags } from "./args.js";

const HELP = `usage: cogen serve --config unified.yml [--host 127.0.0.1] [--port 8080] [options]

Serve experts and unified models (router, ensemble, merged) as one OpenAI-compatible endpoint:
/v1/models, /v1/chat/completions, /v1/completions, /health, /metrics. Answers say who answered
(x-cogen-expert) and with which sampling seed (x-cogen-seed; pass it back as 'seed' to repeat).

  --config FILE        experts and served models (see docs/ARCHITECTURE.md, "serve")
  --host HOST          bind address (default 127.0.0.1; anything else requires API keys)
  --port N             default 8080
  --api-key-env NAME   environment variable with comma-separated bearer keys (default COGEN_API_KEYS)
  --max-tokens N       cap (and default) for max_tokens (default 512)
  --timeout-ms N       answer 504 when a request's model work runs longer (default 120000)
  --max-concurrent N   generations at once; more wait for a slot within their timeout (default 64)
  --body-limit BYTES   largest request body (default 1048576)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      config: { type: "string" }, host: { type: "string" }, port: { type: "string" }, "api-key-env": { type: "string" },
      "max-tokens": { type: "string" }, "timeout-ms": { type: "string" }, "body-limit": { type: "string" },
      "max-concurrent": { type: "string" },
    },
    HELP,
  );
  if (!values.config) throw new ConfigError(["--config is required"]);
  const int = (flag: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new ConfigError([`--${flag} must be a non-negative integer`]);
    return n;
  };
  const port = int("port", values.port, 8080);
  if (port > 65535) throw new ConfigError([`--port must be a TCP port from 0 to 65535, got ${port}`]);
  const keyEnv = values["api-key-env"] ?? "COGEN_API_KEYS";
  const apiKeys = (process.env[keyEnv] ?? "").split(",").map((k) => k.trim()).filter(Boolean);
  const host = values.host ?? "127.0.0.1";
  // Before any model loads: a busy port or a refused bind should not cost minutes of loading first.
  await assertCanListen({ host, port, apiKeys });
  const config = await readUnifiedConfig(values.config);
  const { served, all } = await buildServedModels(config, POLICIES, (spec) => openModel(spec));
  const gateway = await startGateway({
    models: served,
    host,
    port,
    apiKeys,
    maxTokensCap: int("max-tokens", values["max-tokens"], 512),
    requestTimeoutMs: int("timeout-ms", values["timeout-ms"], 120_000),
    bodyLimitBytes: int("body-limit", values["body-limit"], 1024 * 1024),
    maxConcurrent: Math.max(1, int("max-concurrent", values["max-concurrent"], 64)),
  }).catch(async (error: unknown) => {
    await Promise.all(all.map((m) => m.close()));
    throw error;
  });
  console.error(`cogen serve: ${[...served.keys()].join(", ")} at ${gateway.url}/v1 (${apiKeys.length ? "API keys required" : "no API keys: loopback only"})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await gateway.close();
  await Promise.all(all.map((m) => m.close()));
  return 0;
}
