/**
 * Composites of models with different tokenizers have no vocabulary of their own: they use
 * Unicode code points as tokens, which every member can score as text and which detokenize
 * losslessly.
 */
export async function codePointTokens(text: string): Promise<number[]> {
  return Array.from(text, (c) => c.codePointAt(0)!);
}

export async function codePointText(tokens: number[]): Promise<string> {
  return String.fromCodePoint(...tokens);
}
