// Human-readable sizes and times the way the Docker CLI prints them
// (go-units HumanSize / HumanDuration), shared by every front end.

const SI_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Go's %.<p>g: p significant digits, trailing zeros dropped, exponent form when the exponent is >= p. */
function goG(x: number, precision: number): string {
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(precision)))));
  if (exp < -4 || exp >= precision) {
    const [mant, e] = x.toExponential(precision - 1).split('e') as [string, string];
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = x.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/**
 * Decimal (SI) size: 4261033 -> "4.26MB" with the default precision 3 (what
 * `docker images` shows); pull progress uses precision 4 ("4.261MB").
 */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < SI_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG(size, precision)}${SI_UNITS[i]}`;
}

/** Docker's HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks"... */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(hours / 24 / 365)} years`;
}

/** "3 minutes ago" for an ISO timestamp (or epoch ms); "N/A" for an unparseable one. */
export function timeAgo(when: string | number, now = Date.now()): string {
  const t = typeof when === 'number' ? when : Date.parse(when);
  if (!Number.isFinite(t)) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Docker's timestamp form for CreatedAt fields: "2024-05-01 10:00:00 +0000 UTC". */
export function dockerTimestamp(when: string): string {
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) return when;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Binary size with 4 significant digits, as `docker stats` shows memory: 1597440 -> "1.523MiB". */
export function bytesSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < BINARY_UNITS.length - 1) {
    size /= 1024;
    i++;
  }
  return `${goG(size, 4)}${BINARY_UNITS[i]}`;
}
