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
  readonly inFlight = new Gauge({
    name: "cogen_requests_in_flight",
    help: "Generation requests being answered now.",
    registers: [this.registry],
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
}
