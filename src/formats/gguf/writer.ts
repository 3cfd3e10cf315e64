/**
 * Stream a GGUF v3 file: validate metadata and the tensor plan, lay the tensors out (aligned),
 * write the header, then ask `produce` for each tensor's encoded bytes in plan order and write
 * them with padding. Only one tensor is held at a time. The file appears under its name only when
 * complete (temporary sibling, then rename).
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { temporarySibling } from "../../core/atomic.js";
import { ConfigError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import {
  alignmentOf, encodeGgufHeader, layoutTensors, metadataProblems, planProblems, type GgufTensorPlan,
} from "./encode-header.js";
import type { GgufTensorInfo } from "./header.js";
import type { GgufValue } from "./values.js";
import { writeFully } from "../safetensors/file-io.js";

export interface GgufPlannedTensor extends GgufTensorInfo {
  /** Position in the plan. */
  index: number;
}

export interface WriteGgufOptions {
  /** Metadata in the order it should be written. */
  metadata: Map<string, GgufValue> | Iterable<[string, GgufValue]>;
  plan: readonly GgufTensorPlan[];
  /** The stored bytes of one tensor (see encodeTensor), called once per tensor in plan order. */
  produce: (tensor: GgufPlannedTensor) => Promise<Uint8Array>;
  progress?: Progress;
}

export interface GgufWriteSummary {
  path: string;
  bytes: number;
  tensors: GgufTensorInfo[];
  dataOffset: number;
  alignment: number;
}

export async function writeGguf(target: string, options: WriteGgufOptions): Promise<GgufWriteSummary> {
  const entries = [...options.metadata];
  const problems = [...metadataProblems(entries), ...planProblems(options.plan)];
  if (problems.length > 0) throw new ConfigError(problems, target);
  const metadata = new Map(entries);
  const alignment = alignmentOf(metadata);
  const tensors = layoutTensors(options.plan, alignment);
  const header = encodeGgufHeader(metadata, tensors, alignment);
  const last = tensors[tensors.length - 1];
  const dataBytes = last ? last.offset + last.byteLength : 0;
  const total = header.length + dataBytes + (last ? padding(dataBytes, alignment) : 0);
  const progress = options.progress ?? silentProgress;

  await fs.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = temporarySibling(target);
  const handle = await fs.open(tmp, "w");
  try {
    progress.start(`write ${path.basename(target)}`, total, "B");
    await writeFully(handle, header, 0);
    progress.tick(header.length);
    let position = header.length;
    for (const [index, info] of tensors.entries()) {
      const bytes = await options.produce({ ...info, shape: [...info.shape], ne: [...info.ne], index });
      if (!(bytes instanceof Uint8Array) || bytes.byteLength !== info.byteLength) {
        throw new ConfigError([
          `tensor '${info.name}' (${info.dtype} [${info.shape.join(", ")}]): produce returned ` +
          `${bytes instanceof Uint8Array ? bytes.byteLength + " bytes" : "no bytes"}, expected ${info.byteLength}`,
        ], target);
      }
      await writeFully(handle, bytes, position);
      position += bytes.byteLength;
      const pad = padding(position - header.length, alignment);
      if (pad > 0) await writeFully(handle, new Uint8Array(pad), position);
      position += pad;
      progress.tick(bytes.byteLength + pad);
    }
    await handle.close();
    await fs.rename(tmp, target);
    progress.done(`${tensors.length} tensors, ${position} bytes`);
    return { path: target, bytes: position, tensors, dataOffset: header.length, alignment };
  } catch (error) {
    // Cleanup after a failure: the original error is the one to report, not a failed close.
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

function padding(n: number, alignment: number): number {
  const rem = n % alignment;
  return rem === 0 ? 0 : alignment - rem;
}
