/**
 * A dependency that records and refuses every use, so a test can prove it was never touched:
 * `fields` answer normally (e.g. a `close` the app calls on shutdown), anything else is pushed to
 * `uses` and throws.
 */
export function untouchable<T extends object>(name: string, uses: string[], fields: Partial<T> = {}): T {
  return new Proxy(fields as T, {
    get(target, property) {
      if (property in target || property === "then") return target[property as keyof T];
      uses.push(`${name}.${String(property)}`);
      throw new Error(`${name}.${String(property)} must not be used`);
    },
  });
}
