/** Header values as the index and the test helpers show them; no parser is loaded here. */
import type { Address } from 'postal-mime';
import type { HeaderAddress } from './reader.js';

/** postal-mime's addresses with groups flattened into their members. */
export function headerAddresses(addresses: readonly Address[] | undefined): HeaderAddress[] {
  const flat: HeaderAddress[] = [];
  for (const entry of addresses ?? []) {
    if (entry.group !== undefined)
      for (const member of entry.group) flat.push({ name: member.name, address: member.address });
    else flat.push({ name: entry.name, address: entry.address });
  }
  return flat;
}

/** A Date header's value as a Date; undefined when missing or unparseable. */
export function validDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}
