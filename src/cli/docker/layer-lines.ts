// One line per layer, as docker pull and docker push print them. On a terminal
// every layer keeps its own line, redrawn in place (ANSI cursor moves) with a
// progress bar; otherwise a line is printed only when a layer changes state,
// so logs are not flooded with byte counts.
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

/** "Retrying in 3 seconds", the words Docker prints for a retry of a request or of one layer. */
export function retryingIn(seconds: number | undefined): string {
  return `Retrying in ${seconds} second${seconds === 1 ? '' : 's'}`;
}

export class LayerLines {
  private order: string[] = [];
  private lines = new Map<string, string>();
  private lastStatus = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly tty: boolean,
  ) {}

  /**
   * Shows a layer's state: `withBar` on a terminal, `plain` otherwise, and then only when
   * `status` differs from the layer's last one (or `repeat`, for retries).
   */
  show(id: string, status: string, plain: string, withBar = plain, repeat = false): void {
    if (!this.tty) {
      if (this.lastStatus.get(id) === status && !repeat) return;
      this.lastStatus.set(id, status);
      this.out.write(`${plain}\n`);
      return;
    }
    if (!this.lines.has(id)) {
      this.order.push(id);
      this.lines.set(id, withBar);
      this.out.write(`${withBar}\n`);
      return;
    }
    this.lines.set(id, withBar);
    const up = this.order.length - this.order.indexOf(id);
    // Up to the layer's line, clear it, write, and come back down.
    this.out.write(`\x1b[${up}A\r\x1b[2K${withBar}\r\x1b[${up}B`);
  }

  /** Starts a new list of layers (push --all-tags lists each tag's afresh). */
  reset(): void {
    this.order = [];
    this.lines = new Map();
    this.lastStatus = new Map();
  }
}
