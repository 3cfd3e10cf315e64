/**
 * The learning rate at a step: linear warm-up from lr/warmup to lr over the first `warmup`
 * steps, then a cosine decay to `minLr` at the last step. Pure; steps count from 0.
 */
export interface LrSchedule {
  lr: number;
  /** Total optimizer steps of the run (the cosine reaches minLr at step total − 1). */
  total: number;
  warmup: number;
  minLr: number;
}

export function learningRateAt(step: number, s: LrSchedule): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  const span = Math.max(1, s.total - 1 - s.warmup);
  const progress = Math.min(1, (step - s.warmup) / span);
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
