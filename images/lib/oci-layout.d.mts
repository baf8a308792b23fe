export type Compression = 'gzip' | 'zstd' | 'none';
export const MEDIA: {
  index: string;
  manifest: string;
  config: string;
  layer: Record<Compression, string>;
};
export interface LayerInput { tar: Buffer; compression?: Compression; createdBy?: string }
export interface WrittenLayer { digest: string; diffId: string; mediaType: string; size: number }
export function compressLayer(tar: Buffer, compression: Compression): Buffer;
export function writeOciLayout(
  outDir: string,
  image: { layers: LayerInput[]; config?: Record<string, unknown>; tag?: string; architecture?: string; os?: string; created?: string },
): { manifestDigest: string; configDigest: string; layers: WrittenLayer[] };
export function layoutLayers(layoutDir: string): { path: string; mediaType: string; digest: string; diffId: string }[];
