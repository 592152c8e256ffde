/**
 * What a thrown value says, for a one-line report: an `Error`'s message, the `message` of a value
 * shaped like one (Emscripten's `ExitStatus`, which PGlite can throw, is not an `Error`), a string
 * as is, else only what kind of value it was — never its fields, which might hold anything.
 *
 * @example
 * errorMessage({ name: "ExitStatus", message: "Program terminated with exit(1)", status: 1 });
 * // "Program terminated with exit(1)"
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  if (typeof error === "object" && error !== null) {
    const { message } = error as { message?: unknown };
    if (typeof message === "string" && message !== "") return message;
    const kind = (error as { constructor?: { name?: unknown } }).constructor?.name;
    return `a thrown ${typeof kind === "string" && kind !== "" ? kind : "object"} with no message`;
  }
  return String(error);
}
