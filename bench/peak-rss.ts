// Peak resident memory of a child process, from the kernel's own high-water mark (VmHWM), sampled
// until stopped (the figure survives the samples: VmHWM only grows).
import { readFileSync } from 'node:fs';

export function watchPeakRss(pid: number | undefined): { stop(): number } {
  let peakKb = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
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
