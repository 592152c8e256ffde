import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Starts `server` listening and answers its base URL (`http://host:port`, IPv6 bracketed). */
export async function listen(server: Server, port = 0, hostname = "127.0.0.1"): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { address, port: bound } = server.address() as AddressInfo;
  return `http://${address.includes(":") ? `[${address}]` : address}:${bound}`;
}
