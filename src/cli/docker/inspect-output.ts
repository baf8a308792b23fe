// How inspect verbs print: a JSON array, or each object through a -f template.

/** The Go-template subset people use with inspect: {{.A.B}} and {{json .A}}. */
export function renderTemplate(template: string, value: unknown): string {
  return template.replace(/\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}/g, (_, json: string | undefined, path: string) => {
    let v: unknown = value;
    for (const key of path.split('.').filter(Boolean)) v = (v as Record<string, unknown> | undefined)?.[key];
    if (json) return JSON.stringify(v);
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '<no value>');
  });
}

export function printInspected(objects: unknown[], format: string | undefined): void {
  if (format) {
    for (const o of objects) process.stdout.write(`${renderTemplate(format, o)}\n`);
  } else {
    process.stdout.write(JSON.stringify(objects, null, 4) + '\n');
  }
}
