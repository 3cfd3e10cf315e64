import { describe, expect, it } from "vitest";
import { BackendError } from "../../src/core/errors.js";
import type { LanguageModel } from "../../src/core/language-model.js";
import { Rng } from "../../src/core/rng.js";
import type { LabelledItem } from "../../src/fuse/router/knn.js";
import { Router } from "../../src/fuse/router/router.js";
import { createRouterModel } from "../../src/fuse/router/router-model.js";
import type { Ranking } from "../../src/rank/ranking.js";
import { buildCorpus } from "../../src/zoo/corpora/build.js";

const TEXTS: Record<string, string[]> = {
  medicine: [
    "the patient was given antibiotics for a bacterial infection of the lungs",
    "high blood pressure increases the risk of stroke and heart disease",
    "the surgeon removed the inflamed appendix under general anaesthesia",
    "insulin regulates the level of glucose in the blood of diabetic patients",
    "a fracture of the femur needs a cast and weeks of rest",
    "the nurse measured the pulse and the temperature of the patient",
    "vaccines train the immune system to recognise a virus",
    "chronic kidney disease may require dialysis or a transplant",
    "the physician prescribed a lower dose of the drug to reduce side effects",
    "an allergy to penicillin causes a rash and swelling",
    "the clinical trial compared the new therapy with a placebo",
    "symptoms of influenza include fever cough and muscle pain",
  ],
  law: [
    "the court ruled that the contract was void for lack of consideration",
    "the defendant pleaded not guilty and the jury acquitted him",
    "a tenant may sue the landlord for breach of the lease",
    "the appeal was dismissed because the statute of limitations had expired",
    "the judge issued an injunction to stop the publication",
    "copyright protects the expression of an idea but not the idea itself",
    "the prosecutor must prove guilt beyond a reasonable doubt",
    "a will must be signed in the presence of two witnesses",
    "the company was liable in tort for the negligence of its employee",
    "the parties settled the lawsuit before the trial began",
    "the constitution guarantees the right to a fair hearing",
    "an arbitration clause requires disputes to be resolved outside the courts",
  ],
  cooking: [
    "knead the dough until smooth then let it rise for an hour",
    "simmer the tomato sauce with garlic onion and basil",
    "whisk the egg whites until they form stiff peaks",
    "roast the chicken in a hot oven until the skin is crisp",
    "season the soup with salt pepper and a little lemon juice",
    "melt the butter and chocolate together over a pan of hot water",
    "the bread is baked in a wood fired oven",
    "marinate the beef overnight in soy sauce and ginger",
    "fold the flour gently into the cake batter",
    "fry the onions slowly until they caramelise",
    "the risotto needs stock added one ladle at a time",
    "serve the pasta with grated cheese and fresh herbs",
  ],
};
const EXPERTS = ["med", "law", "cook"];
const HOME: Record<string, string> = { medicine: "med", law: "law", cooking: "cook" };

function items(seed = 1): LabelledItem[] {
  const rng = new Rng(seed);
  return Object.entries(TEXTS).flatMap(([domain, texts]) =>
    texts.map((text, i) => ({
      id: `${domain}-${i}`,
      text,
      domain,
      // The home expert usually gets its domain right; others usually do not.
      scores: Object.fromEntries(EXPERTS.map((e) => [e, rng.next() < (HOME[domain] === e ? 0.9 : 0.2) ? 1 : 0])),
    })),
  );
}

describe("kNN router", () => {
  it("sends a request to the expert that did best on similar items, with no model calls", () => {
    const router = new Router(items(), { experts: EXPERTS, k: 5 });
    expect(router.route("the doctor treated the infection with a course of antibiotics").ranked[0].expert).toBe("med");
    expect(router.route("the jury found the defendant guilty of breach of contract").ranked[0].expert).toBe("law");
    const cooking = router.route("bake the cake in a hot oven with butter and flour");
    expect(cooking.ranked[0].expert).toBe("cook");
    expect(cooking.domain).toBe("cooking");
  });

  it("routes held-out real text to the right expert, with calibrated confidence", async () => {
    // Real domain text (the zoo's WordNet/Factbook corpora). Scores are drawn from a known model:
    // each domain's expert gets its own items right with probability 0.8, any other expert 0.3.
    // Index train records, route held-out ones with freshly drawn scores.
    const corpus = await buildCorpus();
    const domains = corpus.domains.map((d) => d.name);
    const rng = new Rng(5);
    const label = (domain: string) =>
      Object.fromEntries(domains.map((e) => [e, rng.next() < (e === domain ? 0.8 : 0.3) ? 1 : 0]));
    const indexed: LabelledItem[] = corpus.domains.flatMap((d) =>
      d.train.filter((_, i) => i % 20 === 0).slice(0, 150).map((r) => ({ id: r.id, text: r.text, domain: d.name, scores: label(d.name) })),
    );
    const router = new Router(indexed, { experts: domains, k: 16 });
    let correct = 0;
    let hits = 0;
    const confidences: number[] = [];
    for (const d of corpus.domains) {
      for (const record of d.heldOut.slice(0, 40)) {
        const decision = router.route(record.text);
        const scores = label(d.name);
        correct += decision.ranked[0].expert === d.name ? 1 : 0;
        // "Among the best" on this item, the event the confidence is calibrated for.
        hits += scores[decision.ranked[0].expert] >= Math.max(...Object.values(scores)) ? 1 : 0;
        confidences.push(decision.confidence);
      }
    }
    const n = confidences.length;
    const meanConfidence = confidences.reduce((a, b) => a + b, 0) / n;
    expect(correct / n).toBeGreaterThan(0.7);
    // Calibration: mean confidence within three standard errors of the observed hit rate.
    const rate = hits / n;
    const tolerance = 3 * Math.sqrt((rate * (1 - rate)) / n);
    expect(Math.abs(meanConfidence - rate)).toBeLessThan(tolerance);
    // The check has power: an uncalibrated constant (0.5) or an overconfident router (0.95) would fail it.
    expect(Math.abs(0.5 - rate)).toBeGreaterThan(tolerance);
    expect(Math.abs(0.95 - rate)).toBeGreaterThan(tolerance);
    // And confidence varies with the request, not one value for all.
    expect(Math.max(...confidences) - Math.min(...confidences)).toBeGreaterThan(0.05);
  });

  it("falls back on the ranking's per-domain abilities where the evidence says nothing", () => {
    const ranking = {
      kind: "per-item", scale: "logit", domains: ["medicine", "law", "cooking"],
      models: EXPERTS.map((model) => ({
        model, rating: 0, ci: [0, 0], rank: 1, rankRange: [1, 1],
        domains: Object.fromEntries(Object.entries(HOME).map(([d, home]) => [d, { ability: home === model ? 2 : -1, ci: [0, 0] }])),
      })),
      items: [], warnings: [],
    } as unknown as Ranking;
    // Evidence where every expert tied: only the prior can separate them.
    const tied = items().map((item) => ({ ...item, scores: { med: 1, law: 1, cook: 1 } }));
    const router = new Router(tied, { experts: EXPERTS, k: 5, ranking });
    expect(router.route("the court heard the appeal against the judgment").ranked[0].expert).toBe("law");
  });

  it("learns what a domain's text looks like from unscored, domain-labelled text", () => {
    const scored = items().filter((i) => i.domain !== "cooking");
    const unscored = TEXTS.cooking.map((text, i) => ({ id: `c${i}`, text, domain: "cooking", scores: {} }));
    const without = new Router(scored, { experts: EXPERTS, k: 5 });
    const withText = new Router(scored, { experts: EXPERTS, k: 5, domainItems: unscored });
    const query = "knead the dough and bake the bread in the oven";
    expect(without.route(query).domains.cooking ?? 0).toBe(0);
    expect(withText.route(query).domain).toBe("cooking");
  });

  it("is a LanguageModel that falls back to the next-ranked expert when a backend fails", async () => {
    const calls: string[] = [];
    const member = (id: string, fail?: Error): LanguageModel => ({
      id,
      tokenize: async () => [],
      detokenize: async () => "",
      nextTokenLogprobs: async () => [],
      logLikelihood: async () => {
        calls.push(id);
        if (fail) throw fail;
        return { logprob: -1, tokens: 1, bytes: 1, greedy: true };
      },
      async *generate() {
        calls.push(id);
        if (fail) throw fail;
        yield { type: "text", text: id };
        yield { type: "finish", reason: "stop" };
      },
      close: async () => {},
    });
    const router = new Router(items(), { experts: EXPERTS, k: 5 });
    const context = "the patient was treated for an infection";
    const members = new Map([["med", member("med", new BackendError("med", "server down", true))], ["law", member("law")], ["cook", member("cook")]]);
    const model = createRouterModel(router, members, { id: "router" });
    await model.logLikelihood(context, " today");
    expect(calls[0]).toBe("med");
    expect(calls.length).toBe(2);
    let text = "";
    for await (const chunk of model.generate(context)) if (chunk.type === "text") text += chunk.text;
    expect(["law", "cook"]).toContain(text);
    // A bug (not a backend failure) is not hidden by falling back.
    const broken = createRouterModel(router, new Map([["med", member("med", new TypeError("bug"))], ["law", member("law")], ["cook", member("cook")]]), { id: "r" });
    await expect(broken.logLikelihood(context, " x")).rejects.toThrow(TypeError);
    expect(await model.detokenize(await model.tokenize("héllo ✓"))).toBe("héllo ✓");
  });
});
