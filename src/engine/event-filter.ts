// `tsrun events -f key=value`, as Docker's daemon/events/filter.go: values of one key are OR-ed
// (except label, where every one must match, as Docker's), different keys AND-ed.
import { UsageError } from '../errors.js';
import type { EngineEvent } from './events.js';

const KEYS = ['container', 'image', 'event', 'type', 'label', 'volume', 'network'] as const;
type Key = (typeof KEYS)[number];

export type EventFilters = Partial<Record<Key, string[]>>;

export function parseEventFilters(flags: string[]): EventFilters {
  const out: EventFilters = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`);
    const key = f.slice(0, i).toLowerCase();
    if (!(KEYS as readonly string[]).includes(key)) throw new UsageError(`invalid filter '${key}'`);
    (out[key as Key] ??= []).push(f.slice(i + 1));
  }
  return out;
}

/** Docker's FuzzyMatch: no values, or one that the source starts with. */
function fuzzy(values: string[] | undefined, ...sources: (string | undefined)[]): boolean {
  if (!values) return true;
  return values.some((v) => sources.some((s) => s !== undefined && s.startsWith(v)));
}

function exact(values: string[] | undefined, ...sources: (string | undefined)[]): boolean {
  if (!values) return true;
  return values.some((v) => sources.includes(v));
}

/** busybox:latest -> busybox (not the port of a registry host). */
function stripTag(ref: string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
}

export function matchesEvent(ev: EngineEvent, f: EventFilters): boolean {
  const attrs = ev.Actor.Attributes ?? {};
  const name = attrs.name;
  // "exec_start: sh -c ..." is matched by "exec_start".
  const action = ev.Action.split(':')[0];
  const image = ev.Type === 'image' ? name : attrs.image;
  const labelsMatch = (f.label ?? []).every((l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in attrs : attrs[l.slice(0, i)] === l.slice(i + 1);
  });
  return (
    exact(f.event, ev.Action, action) &&
    exact(f.type, ev.Type) &&
    labelsMatch &&
    // As Docker's fuzzyMatchName: the actor's ID or name attribute, whatever the event's type.
    fuzzy(f.container, ev.Actor.ID, name) &&
    fuzzy(f.volume, ev.Actor.ID, name) &&
    fuzzy(f.network, ev.Actor.ID, name) &&
    exact(f.image, ev.Actor.ID, image, stripTag(ev.Actor.ID), stripTag(image))
  );
}
