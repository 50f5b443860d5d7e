import type { Metric, Registry } from 'prom-client';

/**
 * A Prometheus histogram for hot paths, exposed exactly as prom-client's `Histogram` is.
 * prom-client's `observe` builds, checks and hashes a label object on every call (a couple of µs:
 * ~2% of a leader's CPU when it ran once per produce request, and on every host turn); here a
 * series is looked up once and an observation is a bucket search and three additions.
 * At most one label; a value that is not finite is ignored (prom-client throws).
 */

/** Options of {@link TallyHistogram}. */
export interface TallyHistogramOptions {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];
  /** The one label's name, if the histogram has one. */
  readonly labelName?: string;
  readonly registers: readonly Registry[];
}

/** The observations of one label value. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); those above every bound are only in `count`. */
  readonly perBucket: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.perBucket = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.perBucket[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

/** One line of the exposition, in prom-client's shape (`labels` first, then `sharedLabels`). */
interface ExposedValue {
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  exemplar?: null;
}

export class TallyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #labelName: string | undefined;
  #series = new Map<string, HistogramSeries>();

  constructor(o: TallyHistogramOptions) {
    this.name = o.name;
    this.help = o.help;
    this.#bounds = [...o.buckets];
    this.#labelName = o.labelName;
    // As prom-client does, a histogram without labels shows its zeros before any observation.
    if (o.labelName === undefined) this.series();
    // The registry only reads name, help, type, aggregator and the two getters, and calls reset.
    for (const registry of o.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labelValue` (of the histogram's label; none when it has no label). */
  series(labelValue = ''): HistogramSeries {
    let s = this.#series.get(labelValue);
    if (s === undefined) {
      const labels = this.#labelName === undefined ? {} : { [this.#labelName]: labelValue };
      s = new HistogramSeries(this.#bounds, labels);
      this.#series.set(labelValue, s);
    }
    return s;
  }

  reset(): void {
    this.#series = new Map();
    if (this.#labelName === undefined) this.series();
  }

  /** What the registry's text exposition reads (prom-client's `Histogram.getForPromString`). */
  async getForPromString() {
    const values: ExposedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.perBucket[i]!;
        values.push({
          labels: { le: this.#bounds[i]! },
          sharedLabels: s.labels,
          value: cumulative,
          metricName: bucket,
          exemplar: null,
        });
      }
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: s.labels,
          value: s.count,
          metricName: bucket,
          exemplar: null,
        },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The JSON form (`Registry.getMetricsAsJSON`): each value's labels with the series' merged in. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({
        ...rest,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
