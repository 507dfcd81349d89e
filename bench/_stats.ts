// Statistics the benchmarks report: medians and spreads over rounds, latency
// percentiles and CDF points over samples.

/** Median of a list of numbers. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Spread of rounds: smallest and largest, and the half-range relative to the median (0.05 = ±5%). */
export function spread(xs: readonly number[]): { min: number; max: number; rel: number } {
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const m = median(xs);
  return { min, max, rel: m > 0 ? (max - min) / 2 / m : 0 };
}

/** Fractions at which CDF curves are sampled: dense in the body, then the tail. */
export const cdfFractions: readonly number[] = [
  0.001,
  0.01,
  0.02,
  0.05,
  ...Array.from({ length: 18 }, (_, i) => 0.1 + i * 0.05),
  0.975,
  0.99,
  0.995,
  0.999,
  0.9999,
];

/** What a latency distribution reports, in nanoseconds. */
export interface LatencySummary {
  samples: number;
  p50_ns: number;
  p99_ns: number;
  p999_ns: number;
  /** [latency ns, fraction of samples at or below it]. */
  cdf: [number, number][];
}

/**
 * A log-linear histogram of latencies in ns (the HdrHistogram layout): exact
 * below 128 ns, then 128 buckets per power of two, so a value is known to
 * within 0.8%. Recording is a few integer operations and allocates nothing,
 * and the whole histogram is 13 KiB: it neither disturbs the heap figures
 * nor runs out of room.
 */
export class LatencyHistogram {
  readonly counts = new Uint32Array(26 * 128);
  n = 0;

  record(ns: number): void {
    const v = ns >= 4294967295 ? 4294967295 : ns <= 0 ? 0 : ns >>> 0;
    let i: number;
    if (v < 128) i = v;
    else {
      const e = 31 - Math.clz32(v);
      i = (e - 6) * 128 + ((v >>> (e - 7)) & 127);
    }
    this.counts[i]++;
    this.n++;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
  }

  /** The middle of bucket `i`. */
  static valueOf(i: number): number {
    if (i < 128) return i;
    const shift = (i >>> 7) - 1;
    const width = 2 ** shift;
    return (128 + (i & 127)) * width + (width - 1) / 2;
  }

  /** The smallest recorded value with at least a fraction `f` of the samples at or below it. */
  at(f: number): number {
    if (this.n === 0) return NaN;
    const target = Math.max(1, Math.ceil(f * this.n));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= target) return LatencyHistogram.valueOf(i);
    }
    return NaN;
  }

  summary(): LatencySummary {
    const n = this.n;
    const lo = this.at(0);
    return {
      samples: n,
      p50_ns: Math.round(this.at(0.5)),
      p99_ns: Math.round(this.at(0.99)),
      p999_ns: Math.round(this.at(0.999)),
      cdf: n === 0 ? [] : [
        [Math.round(lo), 0],
        ...cdfFractions.map((f) => [Math.round(this.at(f)), f] as [number, number]),
        [Math.round(this.at(1)), 1],
      ],
    };
  }
}
