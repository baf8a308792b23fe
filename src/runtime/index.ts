// runtime/: OCI bundle -> plan -> C helper; the container lifecycle. Knows
// nothing of images, so runc or crun can stand in (OciBinaryLauncher).
export { Launcher, checkOciVersion, OCI_VERSION_MIN, OCI_VERSION_MAX, type ContainerLauncher, type ContainerDescription, type ExitStatus, type LaunchOptions, type AttachedSession } from './launcher.js';
export { ExitHandoff } from './exit-handoff.js';
export { runHooks, type HookKind } from './hooks.js';
export { OciBinaryLauncher } from './oci-binary.js';
export { spawnBackoffWaiter } from './backoff-waiter.js';
export { validateContainerId } from './state-dir.js';
export {
  compilePlan, compileExecPlan, encodePlan, decodePlan, parseMountOptions, capabilityMask, clampRlimit, LOOPBACK_UP_ANNOTATION,
  type PlanStep, type MonitorConfig, type PlanHost, type SeccompProgram,
} from './plan.js';
export { errorForFailure, execFailureExitCode, type StepFailure } from './report.js';
export { compileSeccomp } from './seccomp.js';
export {
  AttachConnection, connectAttachSocket, parseDetachKeys, DEFAULT_DETACH_KEYS, DetachKeyMatcher, FrameDecoder, encodeFrame, FRAME,
  type AttachResult, type AttachStreams,
} from './attach.js';
