import { isbotMatch } from "isbot";
import type { TrafficClass } from "./click-event";

/**
 * Fetchers that unfurl a link into a chat or feed card. They are bots too, but a product question
 * ("how often was it shared?") counts them apart. Matched before the generic bot list.
 */
const previewFetchers: [name: string, pattern: RegExp][] = [
  ["slack", /Slackbot-LinkExpanding|Slack-ImgProxy|Slackbot/i],
  ["twitter", /Twitterbot/i],
  ["facebook", /facebookexternalhit|Facebot|facebookcatalog/i],
  ["linkedin", /LinkedInBot/i],
  ["discord", /Discordbot/i],
  ["whatsapp", /WhatsApp/i],
  ["telegram", /TelegramBot/i],
  ["skype", /SkypeUriPreview/i],
  ["teams", /MicrosoftPreview|Teams/i],
  ["reddit", /redditbot/i],
  ["pinterest", /Pinterestbot|Pinterest\//i],
  ["mastodon", /Mastodon\//i],
  ["bluesky", /Bluesky Cardyb/i],
  ["embedly", /Embedly/i],
  ["vk", /vkShare/i],
  ["google-chat", /Google-PageRenderer|GoogleChat/i],
];

/** How a redirect counts, and why. */
export interface Classification {
  traffic: TrafficClass;
  reason: string;
}

/**
 * How a redirect counts, with the reason kept: HEAD and prefetches are served but never count;
 * link-preview fetchers and other bots are counted apart from humans (`isbot` decides bots).
 * iMessage previews announce themselves as Facebook's and Twitter's crawlers at once, so they land
 * in the preview class too.
 */
export function classifyVisit(
  method: string,
  headers: { userAgent: string | null; purpose: string | null },
): Classification {
  if (method === "HEAD") return { traffic: "head", reason: "head-request" };
  const purpose = (headers.purpose ?? "").toLowerCase();
  if (purpose.includes("prefetch") || purpose.includes("prerender"))
    return { traffic: "prefetch", reason: purpose.trim().slice(0, 64) };
  const userAgent = headers.userAgent ?? "";
  if (!userAgent.trim()) return { traffic: "bot", reason: "no-user-agent" };
  for (const [name, pattern] of previewFetchers) {
    if (pattern.test(userAgent)) return { traffic: "preview", reason: name };
  }
  const bot = isbotMatch(userAgent);
  if (bot) return { traffic: "bot", reason: bot.toLowerCase().slice(0, 64) };
  return { traffic: "human", reason: "browser" };
}
