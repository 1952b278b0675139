/**
 * A log-linear histogram in the manner of HdrHistogram: values below 2048 get a bucket each; above
 * that, every power of two is split into 1024 equal buckets, so any recorded value is reported within
 * 1/1024 (about 0.1 %) of its true value, at a fixed memory cost whatever the number of samples.
 *
 * ```
 * index:  0 … 2047 | 2048 … 3071 | 3072 … 4095 | …
 * value:  0 … 2047 | 2048 … 4094  | 4096 … 8188 | …   (step 1, then 2, 4, …)
 *         group 0    group 1        group 2
 * ```
 *
 * Histograms from several workers are merged by adding their bucket counts, which keeps every
 * percentile exact to the bucket width; averaging per-worker percentiles would not.
 */

const SUB_BITS = 11;
const HALF = 1 << (SUB_BITS - 1);
/** Values are clamped to 2^32 - 1 (about 71 minutes in microseconds). */
const MAX_VALUE = 0xffff_ffff;
const GROUPS = 32 - SUB_BITS + 1;
const BUCKETS = (GROUPS + 1) * HALF;

/** Serialized form: sparse `[bucketIndex, count]` pairs plus the exact extremes and sum. */
export interface HistogramSnapshot {
  count: number;
  min: number;
  max: number;
  sum: number;
  buckets: Array<[index: number, count: number]>;
}

function indexOf(value: number): number {
  if (value < 2 * HALF) return value;
  const bits = 32 - Math.clz32(value);
  const group = bits - SUB_BITS;
  return group * HALF + (value >>> group);
}

/** Lowest value that lands in bucket `index`. */
function lowestOf(index: number): number {
  if (index < 2 * HALF) return index;
  const group = Math.floor(index / HALF) - 1;
  return (index - group * HALF) * 2 ** group;
}

/** Highest value that lands in bucket `index`. */
function highestOf(index: number): number {
  if (index < 2 * HALF) return index;
  const group = Math.floor(index / HALF) - 1;
  return lowestOf(index) + 2 ** group - 1;
}

/** Log-linear histogram of non-negative integer values (the bench records microseconds). */
export class Histogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;
  #sum = 0;

  /** Records `value` (rounded, clamped to 0..2^32-1) `times` times. */
  record(value: number, times = 1): void {
    let v = Math.round(value);
    if (!(v > 0)) v = 0;
    else if (v > MAX_VALUE) v = MAX_VALUE;
    const index = indexOf(v);
    this.#counts[index] = (this.#counts[index] ?? 0) + times;
    this.#count += times;
    this.#sum += v * times;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  get count(): number {
    return this.#count;
  }
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }
  get max(): number {
    return this.#max;
  }
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The value at percentile `p` (0..100): the highest value equivalent to the bucket holding the
   * sample of rank ceil(p/100 × count), capped at the exact maximum, as HdrHistogram reports it.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(highestOf(i), this.#max);
    }
    return this.#max;
  }

  /** Adds every sample of `other` into this histogram. */
  merge(other: Histogram | HistogramSnapshot): this {
    const snapshot = other instanceof Histogram ? other.snapshot() : other;
    if (snapshot.count === 0) return this;
    for (const [index, count] of snapshot.buckets) {
      this.#counts[index] = (this.#counts[index] ?? 0) + count;
    }
    this.#count += snapshot.count;
    this.#sum += snapshot.sum;
    if (snapshot.min < this.#min) this.#min = snapshot.min;
    if (snapshot.max > this.#max) this.#max = snapshot.max;
    return this;
  }

  /** A compact, structured-clone and JSON friendly copy. */
  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.#counts[i] ?? 0;
      if (c > 0) buckets.push([i, c]);
    }
    return { count: this.#count, min: this.min, max: this.#max, sum: this.#sum, buckets };
  }

  /** Rebuilds a histogram from a snapshot. */
  static from(snapshot: HistogramSnapshot): Histogram {
    return new Histogram().merge(snapshot);
  }

  /**
   * Counts grouped into `bins` ranges of equal width on a log scale between min and max, for charts.
   */
  distribution(bins = 40): Array<{ from: number; to: number; count: number }> {
    if (this.#count === 0) return [];
    const lo = Math.max(1, this.min);
    const hi = Math.max(lo + 1, this.#max + 1);
    const ratio = (hi / lo) ** (1 / bins);
    const out: Array<{ from: number; to: number; count: number }> = [];
    for (let b = 0; b < bins; b++) {
      out.push({ from: lo * ratio ** b, to: lo * ratio ** (b + 1), count: 0 });
    }
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.#counts[i] ?? 0;
      if (c === 0) continue;
      const v = Math.max(lo, (lowestOf(i) + highestOf(i)) / 2);
      const b = Math.min(bins - 1, Math.max(0, Math.floor(Math.log(v / lo) / Math.log(ratio))));
      const bin = out[b];
      if (bin) bin.count += c;
    }
    return out;
  }
}
