import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one gateway (its own registry, so several gateways never share counts). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "cogen_http_requests_total",
    help: "HTTP requests answered, by route and status code.",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "cogen_http_request_duration_seconds",
    help: "Time to answer a request (to the last byte for streams).",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [this.registry],
  });
  /** Generation requests being answered now: counted in a number, read by the gauge when scraped. */
  generating = 0;
  readonly inFlight: Gauge = new Gauge({
    name: "cogen_requests_in_flight",
    help: "Generation requests being answered now.",
    registers: [this.registry],
    collect: (): void => this.inFlight.set(this.generating),
  });
  readonly generatedTokens = new Counter({
    name: "cogen_generated_tokens_total",
    help: "Tokens generated, by model.",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  readonly expertGenerations = new Counter({
    name: "cogen_expert_generations_total",
    help: "Generations answered, by served model and the expert that answered (a router's pick; each member of an ensemble).",
    labelNames: ["model", "expert"] as const,
    registers: [this.registry],
  });
  readonly cancelled = new Counter({
    name: "cogen_generations_cancelled_total",
    help: "Generations stopped early, by reason (client disconnect or timeout).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  // Each request counts into a few labelled series: their children are looked up once per label
  // set, not hashed from a label object on every request.
  private readonly answeredSeries = new Map<string, { inc(): void; observe(seconds: number): void }>();
  private readonly generatedSeries = new Map<string, { tokens(n: number): void; expert(id: string): void }>();

  /** A request answered on `route` with `status`, after `seconds`. */
  answered(route: string, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    let series = this.answeredSeries.get(key);
    if (!series) {
      const count = this.requests.labels(route, String(status));
      const latency = this.latency.labels(route);
      series = { inc: () => count.inc(), observe: (s) => latency.observe(s) };
      this.answeredSeries.set(key, series);
    }
    series.inc();
    series.observe(seconds);
  }

  /** A generation of served `model` finished with `tokens` tokens, answered by `experts`. */
  generated(model: string, tokens: number, experts: readonly string[]): void {
    let series = this.generatedSeries.get(model);
    if (!series) {
      const counted = this.generatedTokens.labels(model);
      const byExpert = new Map<string, { inc(): void }>();
      series = {
        tokens: (n) => counted.inc(n),
        expert: (id) => {
          let child = byExpert.get(id);
          if (!child) byExpert.set(id, (child = this.expertGenerations.labels(model, id)));
          child.inc();
        },
      };
      this.generatedSeries.set(model, series);
    }
    series.tokens(tokens);
    for (const expert of experts) series.expert(expert);
  }
}
