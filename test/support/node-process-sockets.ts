import { readdir, readFile, readlink } from "node:fs/promises";

/**
 * Which of `pids` holds the server end of the TCP connection between `serverPort` and the client's
 * `clientPort` on this host (Linux `/proc`). Under `node:cluster` the primary accepts and hands the
 * socket to one worker, so this names the worker that serves the connection — without any
 * test-only route in the app.
 */
export async function connectionOwner(
  serverPort: number,
  clientPort: number,
  pids: number[],
): Promise<number | undefined> {
  const inode = await serverSocketInode(serverPort, clientPort);
  if (inode === undefined) return undefined;
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      if (target === `socket:[${inode}]`) return pid;
    }
  }
  return undefined;
}

/** The inode of the socket whose local port is `serverPort` and remote port `clientPort`. */
async function serverSocketInode(serverPort: number, clientPort: number): Promise<string | undefined> {
  const table = await readFile("/proc/net/tcp", "utf8");
  for (const row of table.split("\n").slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const columns = row.trim().split(/\s+/);
    const [local, remote, inode] = [columns[1], columns[2], columns[9]];
    if (!local || !remote || !inode) continue;
    const port = (address: string) => Number.parseInt(address.split(":")[1] ?? "", 16);
    if (port(local) === serverPort && port(remote) === clientPort && inode !== "0") return inode;
  }
  return undefined;
}
