import { type Classification, classifyVisit } from "./visit-classifier";
import { type Device, describeVisit } from "./visit-enricher";

/** What a user-agent string alone says about a visit (a GET without a prefetch announcement). */
export interface AgentFacts {
  classification: Classification;
  device: Device;
  browser: string | null;
  os: string | null;
}

/**
 * Classification and device/browser/OS of user-agent strings, remembered per string. Traffic
 * repeats a small set of strings (browser versions × platforms), and working one out — the preview
 * patterns, isbot's expression, bowser's parser — costs several µs per click, so each distinct
 * string is worked out once. Bounded: it forgets everything once it holds `max` strings, and
 * strings longer than `maxLength` are worked out every time instead of being kept.
 *
 * @example
 * const factsOf = createAgentFacts();
 * factsOf(request.headers.get("user-agent")); // { classification: { traffic: "human", … }, device: "mobile", … }
 */
export function createAgentFacts(options: { max?: number; maxLength?: number } = {}) {
  const max = options.max ?? 2_000;
  const maxLength = options.maxLength ?? 512;
  const known = new Map<string, AgentFacts>();
  const work = (userAgent: string | null): AgentFacts => {
    const { device, browser, os } = describeVisit(userAgent, null);
    const classification = classifyVisit("GET", { userAgent, purpose: null });
    return { classification, device, browser, os };
  };
  return function factsOf(userAgent: string | null): AgentFacts {
    if (userAgent === null || userAgent.length > maxLength) return work(userAgent);
    let facts = known.get(userAgent);
    if (!facts) {
      if (known.size >= max) known.clear();
      facts = work(userAgent);
      known.set(userAgent, facts);
    }
    return facts;
  };
}
