import type { LayerInput } from '../lib/oci-layout.mjs';
export const CAP_NET_BIND_SERVICE: Buffer;
export const BINARY_XATTR: Buffer;
export function trickyLayers(): Required<LayerInput>[];
export function trickyImages(): { name: string; fingerprint(): string; build(outDir: string): unknown }[];
