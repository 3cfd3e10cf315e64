import type { LanguageModel } from "../core/language-model.js";

/**
 * Where the gateway finds the model for a request. A request checks its model out when it starts
 * and releases it when its response has ended, so a source whose models change at run time
 * (src/serve/live.ts) knows when the last request on an old version is over.
 */
export interface ServedModels {
  /** The ids served now. */
  ids(): string[];
  /** The model a new request should use, or undefined when `id` is not served. */
  checkout(id: string): { model: LanguageModel; release: () => void } | undefined;
}

/** A fixed set of models: nothing to count. */
export function fixedModels(models: ReadonlyMap<string, LanguageModel>): ServedModels {
  const release = () => {};
  return {
    ids: () => [...models.keys()],
    checkout: (id) => {
      const model = models.get(id);
      return model ? { model, release } : undefined;
    },
  };
}
