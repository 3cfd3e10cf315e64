/**
 * The tokens a scored sequence starts with: the one rule shared by the llama.cpp backend
 * (src/models/llamacpp) and cogen's own forward pass (the FPO trainer's packing, its reference
 * and the bench scorers), so a continuation is scored the same way in both.
 *
 *   - BOS first where the tokenizer asks for it (`add_bos_token`, GGUF
 *     `tokenizer.ggml.add_bos_token`), whatever the context;
 *   - otherwise nothing before a non-empty context: its first token is only conditioned on;
 *   - before an empty context (a whole document) BOS, or end-of-text for a vocabulary without BOS,
 *     so the text's first token has a distribution to be scored from (lm-eval does the same).
 */
export interface SequenceStartTokens<T> {
  /** Whether the tokenizer puts BOS before every text it encodes. */
  addBos: boolean;
  bos: T | null;
  eos: T | null;
}

export function sequenceStart<T>(tokens: SequenceStartTokens<T>, contextIsEmpty: boolean): T[] {
  if (tokens.addBos && tokens.bos !== null) return [tokens.bos];
  if (!contextIsEmpty) return [];
  const start = tokens.bos ?? tokens.eos;
  return start === null ? [] : [start];
}

/**
 * The start tokens of a Hugging Face vocabulary (tokenizer.json + tokenizer_config.json, as
 * src/formats/hf/tokenizer.ts reads it). A vocabulary that does not say whether it adds BOS adds
 * none, as Hugging Face's encoders then do.
 */
export function vocabSequenceStart(vocab: { addBos?: boolean; bosId?: number; eosId?: number }, contextIsEmpty: boolean): number[] {
  return sequenceStart({ addBos: vocab.addBos === true, bos: vocab.bosId ?? null, eos: vocab.eosId ?? null }, contextIsEmpty);
}
