import type { Config } from "../config";
import type { LinkCache, RedirectEntry } from "./link-cache";
import { hashLinkPassword } from "./link-password";
import {
  type CreatedLink,
  isUniqueViolation,
  type Link,
  type LinkChanges,
  type LinkCursor,
  type LinkRepository,
  type NewLink,
} from "./link-repository";
import { generateSlug, reservedSlugs } from "./slug";
import { checkTargetUrl, type UnsafeUrlReason } from "./url-safety";

export interface LinkInput {
  url: string;
  slug?: string;
  domain?: string;
  title?: string | null;
  tags?: string[];
  expiresAt?: Date | null;
  expiredUrl?: string | null;
  maxClicks?: number | null;
  redirectStatus?: 301 | 302 | 307 | 308;
  cacheControl?: string;
  password?: string | null;
  utm?: Record<string, string> | null;
  rules?: NonNullable<NewLink["rules"]> | null;
}

export type LinkFailure =
  | { kind: "not-found" }
  | { kind: "slug-taken"; slug: string }
  /** Every generated slug collided: the service's doing, not the client's (a retry draws afresh). */
  | { kind: "no-free-slug"; attempts: number }
  | { kind: "unknown-domain"; domain: string }
  | { kind: "unsafe-url"; field: string; reason: UnsafeUrlReason; detail: string };

export type LinkResult<T> = { ok: true; value: T } | { ok: false; failure: LinkFailure };

const ok = <T>(value: T): LinkResult<T> => ({ ok: true, value });
const fail = <T>(failure: LinkFailure): LinkResult<T> => ({ ok: false, failure });

/** Generated slugs retry on collision; at 7 base62 characters a second collision in a row is news. */
const slugAttempts = 5;

/**
 * The rules of links: URL safety, slugs, passwords, and keeping the redirect cache honest — every
 * change that can alter what (domain, slug) resolves to invalidates it before answering.
 */
export function createLinkService(deps: { links: LinkRepository; cache: LinkCache; config: Config }) {
  const { links, cache, config } = deps;
  const policy = { shortDomains: config.SHORT_DOMAINS, blocklist: config.URL_BLOCKLIST };

  const checkUrls = (input: Partial<LinkInput>): LinkFailure | Partial<LinkInput> => {
    const checked: Partial<LinkInput> = {};
    const targets: [string, string | null | undefined][] = [
      ["url", input.url],
      ["expiredUrl", input.expiredUrl],
      ...(input.rules ?? []).map((rule, i) => [`rules.${i}.url`, rule.url] as [string, string]),
    ];
    for (const [field, value] of targets) {
      if (value === undefined || value === null) continue;
      const result = checkTargetUrl(value, policy);
      if (!result.ok) return { kind: "unsafe-url", field, reason: result.reason, detail: result.detail };
      if (field === "url") checked.url = result.url;
      if (field === "expiredUrl") checked.expiredUrl = result.url;
    }
    if (input.rules) {
      checked.rules = input.rules.map((rule) => ({ ...rule, url: new URL(rule.url).href }));
    }
    return checked;
  };

  const toRow = async (input: Partial<LinkInput>, normalised: Partial<LinkInput>): Promise<LinkChanges> => {
    const { password, slug: _slug, domain: _domain, ...rest } = input;
    const row: LinkChanges = { ...rest, ...normalised };
    if (password !== undefined)
      row.passwordHash = password === null ? null : await hashLinkPassword(password);
    return row;
  };

  /** The rules every new link passes, without storing it: domain, URL safety, password hash. */
  const prepare = async (
    workspaceId: string,
    input: LinkInput,
  ): Promise<LinkResult<Omit<NewLink, "slug">>> => {
    const domain = input.domain ?? config.SHORT_DOMAINS[0]!;
    if (!config.SHORT_DOMAINS.includes(domain)) return fail({ kind: "unknown-domain", domain });
    const checked = checkUrls(input);
    if ("kind" in checked) return fail(checked);
    return ok({ ...(await toRow(input, checked)), workspaceId, domain, url: checked.url! } as NewLink);
  };

  /** A generated slug that is never a reserved word. */
  const freshSlug = () => {
    for (;;) {
      const slug = generateSlug(config.SLUG_LENGTH);
      if (!reservedSlugs.has(slug.toLowerCase())) return slug;
    }
  };

  const create = async (workspaceId: string, input: LinkInput): Promise<LinkResult<Link>> => {
    const prepared = await prepare(workspaceId, input);
    if (!prepared.ok) return prepared;
    const row = prepared.value;
    for (let attempt = 0; attempt < (input.slug ? 1 : slugAttempts); attempt += 1) {
      const slug = input.slug ?? freshSlug();
      const created = await links.create({ ...row, slug, slugCustom: input.slug !== undefined });
      if (created) {
        // A negative-cache entry may say this slug does not exist.
        await cache.invalidate(row.domain, slug);
        return ok(created);
      }
      if (input.slug) return fail({ kind: "slug-taken", slug });
    }
    return fail({ kind: "no-free-slug", attempts: slugAttempts });
  };

  return {
    create,

    /**
     * Creates many links with one INSERT, each under the rules of {@link create}. An input whose
     * slug is taken — already, or by an earlier input of the same call — fails alone; a generated
     * slug that collides is retried on its own. Results are in input order.
     *
     * `onInserted` is called as soon as the INSERT has answered, before the cache invalidation
     * that the results still wait for: a caller that paces its inserts (a bulk import keeps a few
     * on the database at once) can start the next one without letting a result out early.
     */
    async createMany(
      workspaceId: string,
      inputs: LinkInput[],
      onInserted?: () => void,
    ): Promise<LinkResult<CreatedLink>[]> {
      const prepared = await Promise.all(inputs.map((input) => prepare(workspaceId, input)));
      const claimed = new Set<string>();
      const rows: { index: number; row: NewLink }[] = [];
      const results = prepared.map((result, index): LinkResult<CreatedLink> | undefined => {
        if (!result.ok) return result;
        const custom = inputs[index]!.slug;
        let slug = custom ?? freshSlug();
        while (!custom && claimed.has(`${result.value.domain}/${slug}`)) slug = freshSlug();
        const key = `${result.value.domain}/${slug}`;
        if (claimed.has(key)) return fail({ kind: "slug-taken", slug });
        claimed.add(key);
        rows.push({ index, row: { ...result.value, slug, slugCustom: custom !== undefined } });
        return undefined;
      });
      let created: CreatedLink[];
      try {
        created = await links.createManySkippingTaken(rows.map(({ row }) => row));
      } finally {
        onInserted?.();
      }
      await cache.invalidateMany(created);
      const byKey = new Map(created.map((link) => [`${link.domain}/${link.slug}`, link]));
      for (const { index, row } of rows) {
        const link = byKey.get(`${row.domain}/${row.slug}`);
        const input = inputs[index]!;
        if (link) results[index] = ok(link);
        else if (input.slug) results[index] = fail({ kind: "slug-taken", slug: input.slug });
        else results[index] = await create(workspaceId, input);
      }
      return results as LinkResult<CreatedLink>[];
    },

    async update(workspaceId: string, id: string, changes: Partial<LinkInput>): Promise<LinkResult<Link>> {
      const before = await links.findById(workspaceId, id);
      if (!before) return fail({ kind: "not-found" });
      const domain = changes.domain ?? before.domain;
      if (!config.SHORT_DOMAINS.includes(domain)) return fail({ kind: "unknown-domain", domain });
      const checked = checkUrls(changes);
      if ("kind" in checked) return fail(checked);
      const row = await toRow(changes, checked);
      if (changes.slug !== undefined) {
        row.slug = changes.slug;
        row.slugCustom = true;
      }
      if (changes.domain !== undefined) row.domain = changes.domain;
      let updated: Link | null;
      try {
        updated = await links.update(workspaceId, id, row);
      } catch (error) {
        if (isUniqueViolation(error)) {
          return fail({ kind: "slug-taken", slug: changes.slug ?? before.slug });
        }
        throw error;
      }
      if (!updated) return fail({ kind: "not-found" });
      await cache.invalidate(before.domain, before.slug);
      if (updated.domain !== before.domain || updated.slug !== before.slug) {
        await cache.invalidate(updated.domain, updated.slug);
      }
      return ok(updated);
    },

    async remove(workspaceId: string, id: string): Promise<LinkResult<Link>> {
      const removed = await links.delete(workspaceId, id);
      if (!removed) return fail({ kind: "not-found" });
      await cache.invalidate(removed.domain, removed.slug);
      return ok(removed);
    },

    async get(workspaceId: string, id: string): Promise<LinkResult<Link>> {
      const link = await links.findById(workspaceId, id);
      return link ? ok(link) : fail({ kind: "not-found" });
    },

    list(workspaceId: string, options: { limit: number; cursor?: LinkCursor; tag?: string; q?: string }) {
      return links.list(workspaceId, { ...options, slugDomains: config.SHORT_DOMAINS });
    },

    /** The redirect path's read: cache tiers first, Postgres only on a miss. */
    resolve(
      domain: string,
      slug: string,
      background: (work: Promise<unknown>) => void,
    ): Promise<RedirectEntry | null> {
      return cache.resolve(domain, slug, () => links.findBySlug(domain, slug), background);
    },

    /** Counts one click towards maxClicks; false once the link has none left. */
    /** The in-process tier only, synchronously (see `LinkCache.peek`): for the Node fast path. */
    peek: (domain: string, slug: string) => cache.peek(domain, slug),
    /** Whether the in-process tier holds (domain, slug) at all, a remembered miss included. */
    holds: (domain: string, slug: string) => cache.holds(domain, slug),
    consumeClick: (id: string) => links.consumeClick(id),
  };
}

export type LinkService = ReturnType<typeof createLinkService>;
