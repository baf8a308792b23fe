// Renders pull events like `docker pull`. On a terminal every layer keeps its
// own line, redrawn in place with a progress bar (ANSI cursor moves); otherwise
// a line is printed only when a layer changes state, so logs are not flooded.
import type { PullEvent } from '../../engine/pull.js';
import { humanSize } from '../format.js';

const BAR_WIDTH = 50;

/** "[=====>      ]  1.23MB/4.56MB", as Docker's jsonmessage draws it. */
export function progressBar(current: number, total: number): string {
  if (!(total > 0)) return humanSize(current, 4);
  const ratio = Math.min(1, current / total);
  const bars = Math.floor(ratio * BAR_WIDTH);
  const box = `[${'='.repeat(bars)}${bars < BAR_WIDTH ? '>' : ''}${' '.repeat(Math.max(0, BAR_WIDTH - bars - 1))}]`;
  return `${box} ${`${humanSize(current, 4)}`.padStart(8)}/${humanSize(total, 4)}`;
}

export class PullProgress {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private readonly lastStatus = new Map<string, string>();

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, private readonly tty = Boolean(out.isTTY)) {}

  handle(e: PullEvent): void {
    switch (e.type) {
      case 'start':
        if (e.defaultTag) this.out.write('Using default tag: latest\n');
        this.out.write(`${e.digest ?? e.tag}: Pulling from ${e.path}\n`);
        return;
      case 'retry':
        this.out.write(`Retrying in ${e.retryInSeconds} second${e.retryInSeconds === 1 ? '' : 's'} (${e.reason})\n`);
        return;
      case 'layer':
        this.layer(e);
        return;
      case 'done':
        this.out.write(`Digest: ${e.digest}\n`);
        this.out.write(e.upToDate ? `Status: Image is up to date for ${e.familiar}\n` : `Status: Downloaded newer image for ${e.familiar}\n`);
        this.out.write(`${e.reference}\n`);
        return;
    }
  }

  private layer(e: Extract<PullEvent, { type: 'layer' }>): void {
    let text = `${e.id}: ${e.status}`;
    if (e.status === 'Retrying') text = `${e.id}: Retrying in ${e.retryInSeconds} second${e.retryInSeconds === 1 ? '' : 's'}`;
    if (!this.tty) {
      // State changes only: no byte counts.
      if (this.lastStatus.get(e.id) === e.status && e.status !== 'Retrying') return;
      this.lastStatus.set(e.id, e.status);
      this.out.write(`${text}\n`);
      return;
    }
    if ((e.status === 'Downloading' || e.status === 'Extracting') && e.total !== undefined) {
      text = `${e.id}: ${e.status.padEnd(11)} ${progressBar(e.current ?? 0, e.total)}`;
    }
    if (!this.lines.has(e.id)) {
      this.order.push(e.id);
      this.lines.set(e.id, text);
      this.out.write(`${text}\n`);
      return;
    }
    this.lines.set(e.id, text);
    const up = this.order.length - this.order.indexOf(e.id);
    // Up to the layer's line, clear it, write, and come back down.
    this.out.write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }
}
