/**
 * The zoo's domains, declared as data. A WordNet synset belongs to at most one domain:
 *
 * 1. domains that take whole lexicographer files (`lexNames`) claim their synsets first;
 * 2. then, in the order listed, topic domains claim the rest: every synset whose topic-domain
 *    pointer (`;c`) leads to one of `topics` or to a hyponym of one (so "surgery" and "pathology"
 *    count under "medicine"), the topics themselves, and the hyponym closure of those members and
 *    of `seeds` (for example every hyponym of "disease").
 *
 * Synsets are named by key (part of speech + WordNet 3.1 offset) together with a lemma the synset
 * must contain, so a different WordNet release fails loudly instead of silently picking other senses.
 */
import type { FactbookField } from "./factbook.js";

export interface SynsetRef {
  key: string;
  lemma: string;
}

export interface DomainSpec {
  name: string;
  description: string;
  lexNames?: string[];
  topics?: SynsetRef[];
  seeds?: SynsetRef[];
  factbook?: FactbookField[];
}

const ref = (key: string, lemma: string): SynsetRef => ({ key, lemma });

export const ZOO_DOMAINS: readonly DomainSpec[] = [
  {
    name: "medicine",
    description: "WordNet: topic domain medicine and its branches (pathology, surgery, psychiatry, ...), diseases, drugs, medical procedures, symptoms, injuries",
    topics: [ref("n06052606", "medicine"), ref("n00613447", "medicine"), ref("n00672594", "surgery"), ref("n03745652", "medication"), ref("n06070395", "pathology")],
    seeds: [ref("n14093842", "disease"), ref("n03252323", "drug"), ref("n03745652", "medicine"), ref("n01026334", "medical procedure"), ref("n14323139", "symptom"), ref("n14309164", "injury")],
  },
  {
    name: "law",
    description: "WordNet: topic domain law and its branches, crimes, legal documents, lawsuits and legal proceedings, courts. Factbook: legal systems, judicial branches",
    topics: [ref("n08458195", "law"), ref("n00612411", "law"), ref("n06171434", "jurisprudence"), ref("n06551169", "criminal law"), ref("n06547213", "legislation"), ref("n00767761", "crime")],
    seeds: [ref("n00767761", "crime"), ref("n06491336", "legal document"), ref("n01185144", "lawsuit"), ref("n01187304", "legal proceeding"), ref("n08346380", "court"), ref("n03654773", "court")],
    factbook: [
      { path: ["Government", "Legal system"], label: "legal system" },
      { path: ["Government", "Judicial branch"], label: "judicial branch" },
      { path: ["Government", "International law organization participation"], label: "international law" },
    ],
  },
  {
    name: "finance",
    description: "WordNet: topic domains economics, finance, banking, commerce, accounting, tax, stock exchange; noun.possession; monetary units; financial institutions. Factbook: economy overviews, industries, exports and imports",
    lexNames: ["noun.possession"],
    topics: [
      ref("n06158935", "economics"), ref("n06160103", "finance"), ref("n01100603", "finance"), ref("n01136358", "finance"),
      ref("n01102178", "banking"), ref("n01102563", "banking"), ref("n01092370", "commerce"), ref("n01096649", "business"),
      ref("n05670377", "accounting"), ref("n00619974", "accounting"), ref("n13330021", "tax"), ref("n04330164", "stock exchange"),
      ref("n01100873", "corporate finance"), ref("n01093829", "trade"),
    ],
    seeds: [ref("n13625961", "monetary unit"), ref("n08071473", "financial institution"), ref("n08089673", "market"), ref("n01099197", "market")],
    factbook: [
      { path: ["Economy", "Economy - overview"], label: "economy" },
      { path: ["Economy", "Industries"], label: "industries" },
      { path: ["Economy", "Agriculture - products"], label: "agricultural products" },
      { path: ["Economy", "Exports - commodities"], label: "exports" },
      { path: ["Economy", "Imports - commodities"], label: "imports" },
    ],
  },
  {
    name: "computing",
    description: "WordNet: topic domains computer science, computers, programming, information science, computer graphics, simulation, electronics, telecommunication; software, programs, code, data structures, algorithms, networks, memory, peripherals",
    topics: [
      ref("n06138021", "computer science"), ref("n03086983", "computer"), ref("n03088689", "computer graphics"), ref("n00930762", "programming"),
      ref("n06151569", "information science"), ref("n05674544", "simulation"), ref("n00952816", "computer technology"),
      ref("n06108876", "electronics"), ref("n06282431", "telecommunication"), ref("n06137758", "telecommunication"),
    ],
    seeds: [
      ref("n03086983", "computer"), ref("n06578068", "software"), ref("n06581154", "program"), ref("n05736438", "data structure"),
      ref("n03089375", "computer network"), ref("n06911128", "programming language"), ref("n03749767", "computer memory"),
      ref("n03922839", "peripheral"), ref("n06580310", "operating system"), ref("n05855965", "algorithm"),
      ref("n06367301", "computer code"),
    ],
  },
  {
    name: "geography",
    description: "WordNet: noun.location. Factbook: location, climate, terrain, natural resources, natural hazards, environmental issues, geography notes",
    lexNames: ["noun.location"],
    factbook: [
      { path: ["Geography", "Location"], label: "location" },
      { path: ["Geography", "Climate"], label: "climate" },
      { path: ["Geography", "Terrain"], label: "terrain" },
      { path: ["Geography", "Natural resources"], label: "natural resources" },
      { path: ["Geography", "Natural hazards"], label: "natural hazards" },
      { path: ["Geography", "Environment - current issues"], label: "environment" },
      { path: ["Geography", "Geography - note"], label: "geography note" },
    ],
  },
  { name: "biology", description: "WordNet: noun.animal and noun.plant", lexNames: ["noun.animal", "noun.plant"] },
  { name: "food", description: "WordNet: noun.food", lexNames: ["noun.food"] },
  { name: "people", description: "WordNet: noun.person (people, occupations, roles)", lexNames: ["noun.person"] },
];

/**
 * The zoo's ninth domain, which no zoo model was trained on: the held-out domain that
 * `cogen adapt` is measured on (src/zoo/corpora/unseen.ts). Topic-only and claimed after the
 * eight, so adding it leaves every one of their synsets, texts and hashes as they were.
 */
export const ZOO_UNSEEN_DOMAIN: DomainSpec = {
  name: "music",
  description: "WordNet: topic domains music and musical notation, musical instruments, compositions, genres, notes, rhythm, musical organizations, dance (synsets no other zoo domain claims)",
  topics: [ref("n07034009", "music"), ref("n05726882", "music"), ref("n06827728", "musical notation")],
  seeds: [
    ref("n03806455", "musical instrument"), ref("n07051211", "musical composition"), ref("n07085982", "music genre"), ref("n06878395", "note"),
    ref("n07100710", "rhythm"), ref("n08263534", "musical organization"), ref("n07033652", "dance"),
  ],
};
