/** File names of a Hugging Face weights folder. */
export const HF_SINGLE_FILE = "model.safetensors";
export const HF_INDEX_FILE = "model.safetensors.index.json";

/** `model-00001-of-00003.safetensors` (1-based, five digits as Hugging Face writes them). */
export function hfShardName(index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, "0");
  return `model-${pad(index)}-of-${pad(count)}.safetensors`;
}

const weightFile = /^model(-\d{5,}-of-\d{5,})?\.safetensors(\.index\.json)?$/;

/** Whether `name` is one of the weight files cogen writes (single file, shard or index). */
export function isHfWeightFileName(name: string): boolean {
  return weightFile.test(name);
}
