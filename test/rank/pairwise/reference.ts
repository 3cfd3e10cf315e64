// Where the real reference data sets live (see /work/shared/data/reference/README.md).
import { existsSync } from "node:fs";
import * as path from "node:path";

export const REFERENCE_DIR = process.env.COGEN_REFERENCE_DATA ?? "/work/shared/data/reference";
export const LLMFAO_CSV = path.join(REFERENCE_DIR, "llmfao", "llmfao.csv");
export const LLMFAO_GOLDEN = path.join(REFERENCE_DIR, "llmfao", "llmfao-golden.csv");
export const ARENA_CSV = path.join(REFERENCE_DIR, "arena-140k", "battles.csv");
export const hasLlmfao = existsSync(LLMFAO_CSV) && existsSync(LLMFAO_GOLDEN);
export const hasArena = existsSync(ARENA_CSV);
