// The image verbs, registered as one group (wired into index.ts):
// pull, images, rmi, tag, save, load, history, and the `image` command group.
import type { Command } from 'commander';
import { registerHistory } from './history.js';
import { registerImageInspect } from './image-inspect.js';
import { registerImageMount } from './image-mount.js';
import { registerImagePrune } from './image-prune.js';
import { registerImages } from './images.js';
import { registerImport } from './import.js';
import { registerLoad } from './load.js';
import { registerPull } from './pull.js';
import { registerPush } from './push.js';
import { registerRmi } from './rmi.js';
import { registerSave } from './save.js';
import { registerTag } from './tag.js';

export function registerImageVerbs(program: Command): void {
  registerPull(program);
  registerPush(program);
  registerImages(program);
  registerRmi(program);
  registerTag(program);
  registerSave(program);
  registerLoad(program);
  registerHistory(program);
  registerImport(program);
  const image = program.command('image').description('manage images');
  registerPull(image, 'pull');
  registerPush(image, 'push');
  registerImages(image, 'ls');
  registerImages(image, 'list');
  registerRmi(image, 'rm');
  registerTag(image, 'tag');
  registerImageInspect(image);
  registerImagePrune(image);
  registerImageMount(image);
  registerSave(image, 'save');
  registerLoad(image, 'load');
  registerHistory(image);
  registerImport(image);
}
