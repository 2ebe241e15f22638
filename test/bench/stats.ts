// Percentiles and aligned tables for the benchmark output.
import type { Latency } from './ipc'

/** Nearest-rank percentile of an ascending array. */
export const percentile = (sorted: ArrayLike<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((sorted.length * p) / 100) - 1))]!

export function summarize(values: number[]): Latency {
  const sorted = Float64Array.from(values).sort()
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
  }
}

export const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : '—')
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
export const int = (n: number) => Math.round(n).toLocaleString('en-US')
export const pct = (v: number) => `${(v * 100).toFixed(0)} %`
export const secs = (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} s` : '—')
export const times = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—')
export const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
/** Middle of the values (upper middle for an even count); NaN for none. */
export const median = (values: number[]) => percentile(Float64Array.from(values).sort(), 50)
export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

/**
 * Prints rows under a header, every column as wide as its widest cell: text left-aligned, cells that
 * start with a digit (figures) right-aligned.
 */
export function table(header: string[], rows: string[][], indent = '  '): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[], isHeader: boolean) =>
    indent +
    cells
      .map((cell, i) => (!isHeader && /^[\d.~≤≥<>×—-]/.test(cell) && i > 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  console.log(line(header, true))
  console.log(indent + widths.map((w) => '─'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row, false))
}
