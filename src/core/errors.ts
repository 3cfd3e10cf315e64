/**
 * One error class per kind of user mistake. The CLI prints `message` without a stack trace for
 * any CogenError; anything else is a bug and is printed in full.
 */
export class CogenError extends Error {
  override readonly name: string = "CogenError";
  /** True when `value` is an instance of the class this is called on (`InputFileError.isInstance`
   *  accepts an InputFileError only, `CogenError.isInstance` any cogen error). */
  static isInstance<T extends CogenError>(this: abstract new (...args: never[]) => T, value: unknown): value is T {
    return value instanceof this;
  }
}

/** A file that cogen reads is malformed. The message always names the file. */
export class InputFileError extends CogenError {
  override readonly name = "InputFileError";
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(line === undefined ? `${file}: ${problem}` : `${file}:${line}: ${problem}`);
  }
}

/** A configuration (YAML, flags) asks for something invalid. */
export class ConfigError extends CogenError {
  override readonly name = "ConfigError";
  constructor(
    readonly problems: string[],
    readonly source?: string,
  ) {
    super((source ? `${source}: ` : "") + (problems.length === 1 ? problems[0] : "\n  - " + problems.join("\n  - ")));
  }
}

/** A model backend (llama.cpp, an HTTP server) failed. */
export class BackendError extends CogenError {
  override readonly name = "BackendError";
  constructor(
    readonly backend: string,
    problem: string,
    readonly retryable = false,
  ) {
    super(`${backend}: ${problem}`);
  }
}

/**
 * An input does not fit a model's context window (a prompt longer than a server's context). It
 * fails the one item or request, not the model: an evaluation records it for that item and goes on.
 */
export class ContextLengthError extends CogenError {
  override readonly name = "ContextLengthError";
  constructor(
    readonly backend: string,
    problem: string,
  ) {
    super(`${backend}: ${problem}`);
  }
}
