/**
 * TF-IDF vectors of short texts and their nearest neighbours by cosine similarity, through an
 * inverted index so a query touches only the documents that share a term with it.
 */
import { contentWords } from "./text.js";

export interface TfIdfIndex {
  /** Per document: term → weight, L2-normalised. */
  vectors: Map<string, number>[];
  postings: Map<string, { doc: number; weight: number }[]>;
}

export function buildTfIdf(texts: string[]): TfIdfIndex {
  const counts = texts.map((t) => {
    const tf = new Map<string, number>();
    for (const w of contentWords(t)) tf.set(w, (tf.get(w) ?? 0) + 1);
    return tf;
  });
  const df = new Map<string, number>();
  for (const tf of counts) for (const term of tf.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  const n = texts.length;
  const vectors = counts.map((tf) => {
    const v = new Map<string, number>();
    let norm = 0;
    for (const [term, c] of tf) {
      const w = (1 + Math.log(c)) * Math.log((n + 1) / (df.get(term)! + 0.5));
      v.set(term, w);
      norm += w * w;
    }
    norm = Math.sqrt(norm) || 1;
    for (const [term, w] of v) v.set(term, w / norm);
    return v;
  });
  const postings = new Map<string, { doc: number; weight: number }[]>();
  vectors.forEach((v, doc) => {
    for (const [term, weight] of v) {
      let list = postings.get(term);
      if (!list) postings.set(term, (list = []));
      list.push({ doc, weight });
    }
  });
  return { vectors, postings };
}

/** Documents by decreasing cosine similarity to document `doc` (itself excluded; ties by index). */
export function neighbours(index: TfIdfIndex, doc: number, limit: number): { doc: number; similarity: number }[] {
  const scores = new Map<number, number>();
  for (const [term, w] of index.vectors[doc]) {
    for (const p of index.postings.get(term)!) {
      if (p.doc !== doc) scores.set(p.doc, (scores.get(p.doc) ?? 0) + w * p.weight);
    }
  }
  return [...scores].map(([d, s]) => ({ doc: d, similarity: s }))
    .sort((a, b) => b.similarity - a.similarity || a.doc - b.doc)
    .slice(0, limit);
}
