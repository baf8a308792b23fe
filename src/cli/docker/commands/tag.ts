// tsrun tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]
import type { Command } from 'commander';
import { tagImage } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';

export function registerTag(program: Command, name = 'tag'): Command {
  return program
    .command(name)
    .description('create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'image name, ID or ID prefix')
    .argument('<target>', 'new name, e.g. myapp:v1 or localhost:5000/myapp:v1')
    .action(
      action('tsrun', async (source: string, target: string, _flags: unknown, self: Command) => {
        await tagImage(contextOf(self), source, target);
      }),
    );
}
