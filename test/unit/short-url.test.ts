import { describe, expect, it } from "vitest";
import { shortUrl } from "../../src/links/link-schemas";

describe("shortUrl", () => {
  it("is https on the default port for a short domain, whatever PORT the server listens on", () => {
    expect(shortUrl("go.example.com", "launch", 3000)).toBe("https://go.example.com/launch");
    expect(shortUrl("go.example.com", "launch", 80)).toBe("https://go.example.com/launch");
  });

  it("is plain http on the server's own port for localhost", () => {
    expect(shortUrl("localhost", "launch", 3000)).toBe("http://localhost:3000/launch");
    expect(shortUrl("localhost", "launch", 8787)).toBe("http://localhost:8787/launch");
  });

  it("leaves out the default port, and a port picked at start (PORT=0) that it cannot know", () => {
    expect(shortUrl("localhost", "launch", 80)).toBe("http://localhost/launch");
    expect(shortUrl("localhost", "launch", 0)).toBe("http://localhost/launch");
  });
});
