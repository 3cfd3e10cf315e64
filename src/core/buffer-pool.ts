/**
 * Byte buffers reused from tensor to tensor by the streaming writers (merge, moe, HF → GGUF). A
 * fresh array per input and per output costs the kernel zeroing every page, a page fault per 4 KiB, and V8 collections
 * forced by external memory; reusing them took about a sixth off a three-model bf16 merge's CPU
 * time. A model's tensors come in a handful of sizes, so best fit finds a buffer most of the time.
 *
 * The pool never raises peak memory: buffers in use plus buffers waiting never exceed the most
 * that was ever in use at once (what the merge would hold without a pool). Before a new buffer is
 * made past that line, the longest-waiting ones are let go.
 */
export class BufferPool {
  /** Waiting buffers, longest-waiting first. */
  private readonly free: ArrayBuffer[] = [];
  private freeBytes = 0;
  private inUse = 0;
  private highWater = 0;

  /**
   * A view of `bytes` bytes at the start of a waiting buffer (contents undefined) or of a new one.
   * A waiting buffer is taken only if it is at most twice the size asked for.
   */
  take(bytes: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i].byteLength;
      if (size >= bytes && size <= 2 * bytes && (best < 0 || size < this.free[best].byteLength)) best = i;
    }
    if (best >= 0) {
      const [buffer] = this.free.splice(best, 1);
      this.freeBytes -= buffer.byteLength;
      this.inUse += buffer.byteLength;
      return new Uint8Array(buffer, 0, bytes);
    }
    this.highWater = Math.max(this.highWater, this.inUse + bytes);
    while (this.free.length > 0 && this.inUse + this.freeBytes + bytes > this.highWater) this.freeBytes -= this.free.shift()!.byteLength;
    this.inUse += bytes;
    return new Uint8Array(bytes);
  }

  /**
   * Hands back a view from `take` (or the array a worker returned in its place, same size); the
   * caller must not use it afterwards. A detached buffer (lost in a worker) is not counted back.
   */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return;
    this.inUse -= buffer.byteLength;
    this.free.push(buffer);
    this.freeBytes += buffer.byteLength;
  }

  /** Bytes in buffers handed out and not yet given back (for tests). */
  get bytesInUse(): number {
    return this.inUse;
  }

  /** Bytes waiting for reuse (for tests). */
  get bytesWaiting(): number {
    return this.freeBytes;
  }
}
