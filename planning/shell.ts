/** Quoting for the sh and bash command lines that planning/ writes. */

/** An environment variable name the program writes or accepts: upper case, digits, underscores. */
export const ENV_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

/** Quotes one word for sh and bash. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
