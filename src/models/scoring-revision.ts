/**
 * Bumped whenever a backend's scores of the same model and text change (a scoring fix, not a new
 * model), so that caches of results written before — unify's results logs — are dropped instead of
 * mixed with new ones.
 * - 2 (session 25): llama.cpp opens a model at its trained context, with one cell more, so that
 *   node-llama-cpp never shifts a window that fills the context.
 */
export const SCORING_REVISION = 2;
