// Injected by esbuild as the global `process` that Node-flavoured dependencies (events) expect.
export const process = {
  env: {} as Record<string, string | undefined>,
  browser: true,
  nextTick: (fn: (...args: unknown[]) => void, ...args: unknown[]) => queueMicrotask(() => fn(...args)),
}
