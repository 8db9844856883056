// Linux keeps a Unix socket's path in sockaddr_un.sun_path: 108 bytes including the terminating
// NUL. A longer path cannot be bound at all, so callers check it before anything depends on it.

/** The longest path, in bytes, a Unix socket may be bound to. */
export const UNIX_SOCKET_PATH_MAX_BYTES = 107;

/** Why `socketPath` cannot be a Unix socket, or undefined when it can. */
export function unixSocketPathProblem(socketPath: string): string | undefined {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes <= UNIX_SOCKET_PATH_MAX_BYTES) return undefined;
  return `${socketPath} is ${bytes} bytes long; a Unix socket path holds at most ${UNIX_SOCKET_PATH_MAX_BYTES} (108 with its terminating NUL)`;
}
