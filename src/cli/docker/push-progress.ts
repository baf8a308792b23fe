// Renders push events like `docker push`: on a terminal each layer keeps its
// own line, redrawn in place with a progress bar while it uploads; otherwise a
// line is printed only when a layer changes state.
//
//   The push refers to repository [127.0.0.1:5000/app]
//   0b16ab2571f4: Pushed
//   5f70bf18a086: Mounted from library/busybox
//   v1: digest: sha256:… size: 527
import type { PushEvent } from '../../engine/push.js';
import { LayerLines, progressBar, retryingIn } from './layer-lines.js';

export class PushProgress {
  private readonly lines: LayerLines;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, tty = Boolean(out.isTTY)) {
    this.lines = new LayerLines(out, tty);
  }

  handle(e: PushEvent): void {
    switch (e.type) {
      case 'start':
        if (e.defaultTag) this.out.write('Using default tag: latest\n');
        this.out.write(`The push refers to repository [${e.repository}]\n`);
        return;
      case 'tag':
        // Every tag lists its layers afresh (--all-tags).
        this.lines.reset();
        return;
      case 'retry':
        this.out.write(`${retryingIn(e.retryInSeconds)} (${e.reason})\n`);
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
    let plain = `${e.id}: ${e.status}`;
    if (e.status === 'Mounted from') plain = `${e.id}: Mounted from ${e.from ?? ''}`;
    if (e.status === 'Retrying') plain = `${e.id}: ${retryingIn(e.retryInSeconds)}`;
    const withBar = e.status === 'Pushing' && e.total !== undefined ? `${e.id}: Pushing ${progressBar(e.current ?? 0, e.total)}` : plain;
    this.lines.show(e.id, e.status, plain, withBar, e.status === 'Retrying');
  }
}
