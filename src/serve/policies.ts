import { ConfigError } from "../core/errors.js";
import type { PolicyBuilder } from "./unified-config.js";

/**
 * The policies a served model can use. `single` serves one member as it is (a merged checkpoint
 * is served this way: it is one GGUF); composite policies register here as they are built.
 */
export const POLICIES: Record<string, PolicyBuilder> = {
  single: async (spec, members) => {
    if (members.length !== 1) throw new ConfigError([`serve '${spec.id}': policy 'single' takes exactly one member`]);
    return members[0];
  },
};
