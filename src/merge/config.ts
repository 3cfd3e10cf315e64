/** A mergekit YAML config checked against cogen's merge methods (names and parameters). */
import { parseMergekitConfig, type ParsedConfig } from "../formats/mergekit-config.js";
import { MERGE_METHODS } from "./methods/registry.js";

/** Parse and validate a mergekit config; `source` names the file in messages. */
export function parseMergeConfig(text: string, source = "config"): ParsedConfig {
  return parseMergekitConfig(text, MERGE_METHODS, source);
}
