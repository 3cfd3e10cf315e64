/**
 * The hub loop's publisher backed by the gateway's live switch: publishing a composition version
 * serves it at once through a LiveComposition (new requests go to it, running ones finish on
 * theirs), and publishing an earlier version serves it again — the hub's rollback.
 */
import { ConfigError } from "../core/errors.js";
import type { LiveComposition } from "../serve/live.js";
import type { UnifiedConfig } from "../serve/unified-config.js";
import type { Composition } from "./api-types.js";

export interface LivePublisher {
  /** Serve `config` as `version`; resolves to where it is served once new requests go to it. */
  publish(version: number, config: UnifiedConfig): Promise<NonNullable<Composition["endpoint"]>>;
}

/**
 * `url` is the gateway's base URL (…/v1); `model` the served id the hub's compositions answer
 * under (default "unified"). A config that does not serve `model` is refused before anything
 * changes, as is one whose build fails (the current version keeps serving).
 */
export function livePublisher(live: LiveComposition, endpoint: { url: string; model?: string }): LivePublisher {
  const model = endpoint.model ?? "unified";
  return {
    async publish(version, config) {
      if (!config.served.some((s) => s.id === model)) {
        throw new ConfigError([`composition ${version} does not serve '${model}' (it serves ${config.served.map((s) => s.id).join(", ") || "nothing"})`], config.file);
      }
      await live.activate(config, version);
      return { url: endpoint.url, model };
    },
  };
}
