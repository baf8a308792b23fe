// The spec module's entry points as the engine uses them.
export { buildSpec, buildExecProcess } from '../spec/index.js';
export { parseRunFlags, type RunOptions } from '../spec/options.js';
