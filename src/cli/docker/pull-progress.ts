// Renders pull events like `docker pull` (a line per layer: layer-lines.ts).
import type { PullEvent } from '../../engine/pull.js';
import { LayerLines, progressBar, retryingIn } from './layer-lines.js';

export { progressBar } from './layer-lines.js';

export class PullProgress {
  private readonly lines: LayerLines;

  /**
   * `showReference`: end with the full reference line, as `docker pull` does; `docker run`'s
   * pull of a missing image leaves it out, so the command's output follows the Status line.
   */
  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    tty = Boolean(out.isTTY),
    private readonly showReference = true,
  ) {
    this.lines = new LayerLines(out, tty);
  }

  handle(e: PullEvent): void {
    switch (e.type) {
      case 'start':
        if (e.defaultTag) this.out.write('Using default tag: latest\n');
        this.out.write(`${e.digest ?? e.tag}: Pulling from ${e.path}\n`);
        return;
      case 'retry':
        this.out.write(`${retryingIn(e.retryInSeconds)} (${e.reason})\n`);
        return;
      case 'layer':
        this.layer(e);
        return;
      case 'done':
        this.out.write(`Digest: ${e.digest}\n`);
        this.out.write(e.upToDate ? `Status: Image is up to date for ${e.familiar}\n` : `Status: Downloaded newer image for ${e.familiar}\n`);
        if (this.showReference) this.out.write(`${e.reference}\n`);
        return;
    }
  }

  private layer(e: Extract<PullEvent, { type: 'layer' }>): void {
    const plain = e.status === 'Retrying' ? `${e.id}: ${retryingIn(e.retryInSeconds)}` : `${e.id}: ${e.status}`;
    const withBar =
      (e.status === 'Downloading' || e.status === 'Extracting') && e.total !== undefined
        ? `${e.id}: ${e.status.padEnd(11)} ${progressBar(e.current ?? 0, e.total)}`
        : plain;
    this.lines.show(e.id, e.status, plain, withBar, e.status === 'Retrying');
  }
}
