import type { TarEntryInput } from '../lib/tar-writer.mjs';
export const HOSTILE: Record<string, { entries: TarEntryInput[]; escapes: string[]; refuses: string | undefined }>;
export function hostileTar(name: string): Buffer;
export function hostileImages(): { name: string; fingerprint(): string; build(outDir: string): unknown }[];
