import { bodyLimit } from "hono/body-limit";
import { AppError } from "./errors";

/**
 * hono/body-limit with the app's problem for a body over `maxBytes` (413, naming the setting). The
 * declared Content-Length is checked before anything is read; a body without one is counted as it
 * arrives and refused as soon as it passes the bound.
 */
export function apiBodyLimit(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError("PAYLOAD_TOO_LARGE", {
        detail: `The body is larger than API_BODY_MAX_BYTES (${maxBytes} bytes).`,
      });
    },
  });
}
