// Peak resident memory of a child process, from the kernel's own high-water mark (VmHWM), sampled
// until stopped (the figure survives the samples: VmHWM only grows).
import { readFileSync } from 'node:fs';

/** `field`: VmHWM (the peak since the process started) or VmRSS (the most seen while watching). */
export function watchPeakRss(
  pid: number | undefined,
  field: 'VmHWM' | 'VmRSS' = 'VmHWM',
): { stop(): number } {
  let peakKb = 0;
  const pattern = new RegExp(`${field}:\\s+(\\d+)`);
  const sample = () => {
    try {
      const m = pattern.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      peakKb = Math.max(peakKb, Number(m?.[1] ?? 0));
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, 200);
  return {
    /** Stops sampling; the peak in MiB. */
    stop: () => {
      clearInterval(timer);
      return Math.round(peakKb / 1024);
    },
  };
}
