/** Quoting for the sh and bash command lines that planning/ writes. */

/** Quotes one word for sh and bash. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
