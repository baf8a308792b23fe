export const OUT: string;
export function allImages(): { name: string; fingerprint(): string; build(outDir: string): unknown }[];
export function buildImages(names?: string[], log?: (msg: string) => void): Promise<Record<string, string>>;
