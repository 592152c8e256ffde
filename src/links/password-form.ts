const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/**
 * The fields the password page is sent with: its own inline style and a post back to this origin
 * are all it may do, and no other site may frame it (a framed password form invites clickjacking).
 */
export const passwordFormHeaders: Readonly<Record<string, string>> = {
  "Cache-Control": "no-store",
  "Content-Security-Policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/** The small page a password-protected link answers with (401); it posts back to the same path. */
export function passwordForm(slug: string, options: { wrong: boolean }): string {
  const safe = escapeHtml(slug);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>Password required</title>
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:15vh auto;padding:0 1rem}input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin-top:.5rem}.e{color:#b00020}</style>
</head><body><h1>Password required</h1><p>The link <code>/${safe}</code> is protected.</p>
${options.wrong ? '<p class="e" role="alert">Wrong password. Try again.</p>' : ""}<form method="post" action="/${safe}">
<label for="p">Password</label><input id="p" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Continue</button></form></body></html>`;
}
