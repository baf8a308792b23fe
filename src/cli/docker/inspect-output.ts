// How inspect verbs print: a JSON array, or each object through a -f template.
import { renderTemplate, type TemplateMode } from './go-template.js';
import { stdout } from '../stdout.js';

/**
 * Docker's inspect runs the template on its Go types, then on the decoded JSON with
 * missingkey=error. Go maps in those types (labels, networks, options...) print "<no value>"
 * for a missing key; optional pointers left out of the JSON when unset print "<nil>".
 */
export const INSPECT_TEMPLATE: TemplateMode = {
  kind: 'map',
  maps: new Set([
    'Config.Labels', 'Config.ExposedPorts', 'Config.Volumes', 'ContainerConfig.Labels', 'GraphDriver.Data',
    'NetworkSettings.Networks', 'NetworkSettings.Ports', 'HostConfig.LogConfig.Config', 'Labels', 'Options', 'Status', 'Containers',
  ]),
  nilPointers: new Set(['State.Health', 'Config.Healthcheck', 'Config.StopTimeout', 'ContainerConfig.Healthcheck']),
};

/** Renders every object first, so a template error prints nothing (as Docker's buffered inspect). */
export function printInspected(objects: unknown[], format: string | undefined): void {
  if (format) {
    const lines = objects.map((o) => `${renderTemplate(format, o, INSPECT_TEMPLATE)}\n`);
    stdout.write(lines.join(''));
  } else {
    stdout.write(JSON.stringify(objects, null, 4) + '\n');
  }
}
