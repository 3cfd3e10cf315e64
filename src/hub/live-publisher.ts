/**
 * Publishing to the gateway's live switch (src/serve/live.ts): a new composition version is
 * built beside the one serving and switched to without failing a request; a version served
 * before is served again from the live history (a rollback), or rebuilt when it has left it.
 */
import type { LiveComposition } from "../serve/live.js";
import type { UnifiedConfig } from "../serve/unified-config.js";
import { SERVED_ID } from "./compose.js";
import type { Publisher } from "./loop.js";

export function livePublisher(live: LiveComposition, gatewayUrl: () => string | null): Publisher {
  return {
    async publish(version: number, config: UnifiedConfig) {
      const known = live.status().versions.some((v) => v.version === String(version));
      if (live.version !== String(version)) await (known ? live.rollback(version) : live.publish(config, version));
      const url = gatewayUrl();
      return url === null ? null : { url, model: SERVED_ID };
    },
  };
}
