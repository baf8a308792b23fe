// runtime/: OCI bundle -> plan -> C helper; the container lifecycle. Knows
// nothing of images, so runc or crun can stand in (OciBinaryLauncher).
export { Launcher, type ContainerLauncher, type ExitStatus, type LaunchOptions } from './launcher.js';
export { OciBinaryLauncher } from './oci-binary.js';
export { validateContainerId } from './state-dir.js';
export {
  compilePlan, compileExecPlan, encodePlan, decodePlan, parseMountOptions, capabilityMask, clampRlimit,
  type PlanStep, type MonitorConfig, type PlanHost, type SeccompProgram,
} from './plan.js';
export { errorForFailure, execFailureExitCode, type StepFailure } from './report.js';
export { compileSeccomp } from './seccomp.js';
