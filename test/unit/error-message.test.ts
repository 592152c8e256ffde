import { describe, expect, it } from "vitest";
import { errorMessage } from "../../src/platform/log/error-message";

describe("errorMessage", () => {
  it("gives an Error's message, and the message of a value shaped like one", () => {
    expect(errorMessage(new TypeError("bad port"))).toBe("bad port");
    // Emscripten's ExitStatus (PGlite) is an object with a message, not an Error.
    function ExitStatus(this: Record<string, unknown>, status: number) {
      this.name = "ExitStatus";
      this.message = `Program terminated with exit(${status})`;
      this.status = status;
    }
    const exit = new (ExitStatus as unknown as new (status: number) => object)(1);
    expect(errorMessage(exit)).toBe("Program terminated with exit(1)");
  });

  it("names only the kind of anything else, never its fields", () => {
    expect(errorMessage("plain words")).toBe("plain words");
    expect(errorMessage(42)).toBe("42");
    expect(errorMessage(null)).toBe("null");
    expect(errorMessage(undefined)).toBe("undefined");
    expect(errorMessage({ password: "hunter2" })).toBe("a thrown Object with no message");
    expect(errorMessage(Object.create(null))).toBe("a thrown object with no message");
    class Refusal {
      readonly token = "secret";
    }
    expect(errorMessage(new Refusal())).toBe("a thrown Refusal with no message");
  });
});
