/**
 * Results asked for in order 0, 1, 2, …: asking for i also starts i+1 … i+depth (each started
 * once), so the next ones are read while the current one is being written. A failure surfaces
 * when its own result is asked for, never as an unhandled rejection before that.
 */
export function prefetchInOrder<T>(count: number, depth: number, start: (i: number) => Promise<T>): (i: number) => Promise<T> {
  const pending = new Map<number, Promise<T>>();
  const begin = (i: number) => {
    if (i >= count || pending.has(i)) return;
    const p = start(i);
    p.catch(() => undefined);
    pending.set(i, p);
  };
  return async (i: number): Promise<T> => {
    for (let j = i; j <= i + depth; j++) begin(j);
    const result = pending.get(i)!;
    pending.delete(i);
    return result;
  };
}
