import { cosine, TfIdf, type SparseVector } from "../text-features.js";

/** An indexed evaluation item: its text, domain, and each expert's score on it. */
export interface LabelledItem {
  id: string;
  text: string;
  domain: string;
  /** expert id → score in [0, 1] (missing: not evaluated). */
  scores: Record<string, number>;
}

export interface Neighbour {
  item: LabelledItem;
  /** Position of the item in the index. */
  index: number;
  similarity: number;
}

/**
 * Nearest neighbours by TF-IDF cosine over labelled items, brute force: a linear scan of sparse
 * vectors, about 15–20 µs per indexed item, so tens of milliseconds per query at the demo's
 * ~1,500 items (a few thousand items stay well below a model call; far more would want an
 * inverted index).
 */
export class KnnIndex {
  private readonly tfidf: TfIdf;
  private readonly vectors: SparseVector[];

  constructor(readonly items: readonly LabelledItem[]) {
    this.tfidf = new TfIdf(items.map((i) => i.text));
    this.vectors = items.map((i) => this.tfidf.vector(i.text));
  }

  /** The `k` most similar items, most similar first; `exclude` skips one item (leave-one-out). */
  query(text: string, k: number, exclude?: number): Neighbour[] {
    const v = this.tfidf.vector(text);
    return this.queryVector(v, k, exclude);
  }

  queryIndex(index: number, k: number): Neighbour[] {
    return this.queryVector(this.vectors[index], k, index);
  }

  private queryVector(v: SparseVector, k: number, exclude?: number): Neighbour[] {
    const best: Neighbour[] = [];
    for (let i = 0; i < this.vectors.length; i++) {
      if (i === exclude) continue;
      const similarity = cosine(v, this.vectors[i]);
      if (best.length < k || similarity > best[best.length - 1].similarity) {
        best.push({ item: this.items[i], index: i, similarity });
        best.sort((a, b) => b.similarity - a.similarity);
        if (best.length > k) best.pop();
      }
    }
    return best;
  }
}
