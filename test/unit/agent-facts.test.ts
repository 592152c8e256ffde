import { describe, expect, it } from "vitest";
import { createAgentFacts } from "../../src/analytics/agent-facts";
import { classifyVisit } from "../../src/analytics/visit-classifier";
import { describeVisit } from "../../src/analytics/visit-enricher";

const agents = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  "curl/8.5.0",
  "",
  `Mozilla/5.0 ${"x".repeat(600)}`,
];

const direct = (userAgent: string | null) => {
  const { device, browser, os } = describeVisit(userAgent, null);
  return { classification: classifyVisit("GET", { userAgent, purpose: null }), device, browser, os };
};

describe("user-agent facts", () => {
  it("answer what the classifier and the parser answer, the first time and every time after", () => {
    const factsOf = createAgentFacts();
    for (const round of [1, 2]) {
      for (const agent of [...agents, null]) {
        expect({ round, facts: factsOf(agent) }).toEqual({ round, facts: direct(agent) });
      }
    }
  });

  it("stay right past their bound (they forget, they never mix strings up)", () => {
    const factsOf = createAgentFacts({ max: 2 });
    for (let i = 0; i < 3; i += 1) {
      for (const agent of agents) expect(factsOf(agent)).toEqual(direct(agent));
    }
  });
});
