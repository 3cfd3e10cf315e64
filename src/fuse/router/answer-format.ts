/**
 * What a multiple-choice request looks like, as numbers a correctness scorer can weigh: models
 * differ less by topic than by the work a question asks for (a calculation with numeric options
 * favours a maths model; a long reading question does not). A request carries its options, when
 * it has them, as lettered lines after the question ("A. …", "B) …").
 */

const OPTION_LINE = /^\s*([A-Z])[.)]\s+(.*)$/;
/** A numeric option: a number, maybe signed or with a currency sign, followed by at most a few unit words. */
const NUMERIC_OPTION = /^\s*[-+−$€£]?\s*\d[\d.,]*\s*(?:\S+\s*){0,3}$/;
const DIGIT = /\p{Nd}/gu;

export interface AnswerFormat {
  /** The question: every line before the first lettered option line. */
  question: string;
  /** The options' texts, in order (empty when the request has none). */
  options: string[];
}

/**
 * Splits a request into its question and its options: the trailing run of consecutive lettered
 * lines A., B., C., … (a lettered line inside the question that does not start that run stays in it).
 */
export function splitOptions(text: string): AnswerFormat {
  const lines = text.trimEnd().split("\n");
  let expected: number | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = OPTION_LINE.exec(lines[i]);
    const letter = match ? match[1].charCodeAt(0) - 65 : -1;
    if (!match || (expected !== undefined && letter !== expected)) break;
    if (letter === 0) return { question: lines.slice(0, i).join("\n"), options: lines.slice(i).map((line) => OPTION_LINE.exec(line)![2]) };
    expected = letter - 1;
  }
  return { question: text, options: [] };
}

/** Names of answerFormatFeatures' entries, in order. */
export const ANSWER_FORMAT_FEATURES = [
  "log question length",
  "digit share of the question",
  "options / 10",
  "numeric option share",
  "log mean option length",
  "formula marks ($ or \\)",
  "has a question mark",
] as const;

/**
 * The request's answer format: question length and digit share, how many options and how many
 * of them are numbers, option length, formula marks, whether it asks a question. Raw
 * values: a scorer standardises them on its evidence.
 */
export function answerFormatFeatures(text: string): Float64Array {
  const { question, options } = splitOptions(text);
  const trimmed = question.trim();
  const digits = trimmed.match(DIGIT)?.length ?? 0;
  const numeric = options.filter((o) => NUMERIC_OPTION.test(o)).length;
  const meanOptionLength = options.length > 0 ? options.reduce((s, o) => s + o.length, 0) / options.length : 0;
  return Float64Array.from([
    Math.log1p(trimmed.length),
    trimmed.length > 0 ? digits / trimmed.length : 0,
    options.length / 10,
    options.length > 0 ? numeric / options.length : 0,
    Math.log1p(meanOptionLength),
    /[$\\]/.test(trimmed) ? 1 : 0,
    trimmed.includes("?") ? 1 : 0,
  ]);
}
