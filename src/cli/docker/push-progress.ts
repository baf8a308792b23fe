// Renders push events like `docker push`: on a terminal each layer keeps its
// own line, redrawn in place with a progress bar while it uploads; otherwise a
// line is printed only when a layer changes state.
//
//   The push refers to repository [127.0.0.1:5000/app]
//   0b16ab2571f4: Pushed
//   5f70bf18a086: Mounted from library/busybox
//   v1: digest: sha256:… size: 527
import type { PushEvent } from '../../engine/push.js';
import { progressBar } from './pull-progress.js';

export class PushProgress {
  private order: string[] = [];
  private lines = new Map<string, string>();
  private lastStatus = new Map<string, string>();

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, private readonly tty = Boolean(out.isTTY)) {}

  handle(e: PushEvent): void {
    switch (e.type) {
      case 'start':
        if (e.defaultTag) this.out.write('Using default tag: latest\n');
        this.out.write(`The push refers to repository [${e.repository}]\n`);
        return;
      case 'tag':
        // Every tag lists its layers afresh (--all-tags).
        this.order = [];
        this.lines = new Map();
        this.lastStatus = new Map();
        return;
      case 'retry':
        this.out.write(`Retrying in ${e.retryInSeconds} second${e.retryInSeconds === 1 ? '' : 's'} (${e.reason})\n`);
        return;
      case 'layer':
        this.layer(e);
        return;
      case 'done':
        this.out.write(`${e.tag}: digest: ${e.digest} size: ${e.size}\n`);
        return;
    }
  }

  private layer(e: Extract<PushEvent, { type: 'layer' }>): void {
    let text = `${e.id}: ${e.status}`;
    if (e.status === 'Mounted from') text = `${e.id}: Mounted from ${e.from ?? ''}`;
    if (e.status === 'Retrying') text = `${e.id}: Retrying in ${e.retryInSeconds} second${e.retryInSeconds === 1 ? '' : 's'}`;
    if (!this.tty) {
      // State changes only: no byte counts.
      if (this.lastStatus.get(e.id) === e.status && e.status !== 'Retrying') return;
      this.lastStatus.set(e.id, e.status);
      this.out.write(`${text}\n`);
      return;
    }
    if (e.status === 'Pushing' && e.total !== undefined) text = `${e.id}: Pushing ${progressBar(e.current ?? 0, e.total)}`;
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
