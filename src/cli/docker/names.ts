// Image names as Docker prints them: "busybox:latest" for docker.io/library/busybox.
import { familiarString, parseReference } from '../../image/reference.js';

export function familiarOrSame(name: string): string {
  try {
    return familiarString(parseReference(name));
  } catch {
    return name;
  }
}
