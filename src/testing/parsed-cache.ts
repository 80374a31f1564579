/**
 * Parsed messages kept by the sources (a stored file never changes), so that many waiters
 * looking at the same messages have each one parsed, or fetched, once. Bounded by the messages'
 * sizes; the least recently used go first. A failed or empty load is not kept: the next look
 * tries again.
 */

interface CacheEntry<T> {
  /** Its folder's key, for `forgetFolder`. */
  readonly folder: string;
  readonly value: Promise<T | undefined>;
  size: number;
  /** The value once loaded, for `peek`. */
  settled?: T;
}

export class ParsedCache<T extends { readonly size: number }> {
  private readonly entries = new Map<string, CacheEntry<T>>();
  private bytes = 0;

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /** The value for `key`, loading it with `load` unless it is kept or being loaded. */
  get(key: string, folder: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached.value;
    }
    const entry: CacheEntry<T> = { folder, value: load(), size: 0 };
    this.entries.set(key, entry);
    entry.value.then(
      (value) => {
        if (this.entries.get(key) !== entry) return;
        if (value === undefined) return this.forget(key);
        entry.size = value.size;
        entry.settled = value;
        this.bytes += entry.size;
        this.evict(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.forget(key);
      },
    );
    return entry.value;
  }

  /** The value if it is loaded now, without waiting. */
  peek(key: string): T | undefined {
    return this.entries.get(key)?.settled;
  }

  forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.size;
  }

  /** Drops every value of a folder (removed, renamed, or made anew with new numbers). */
  forgetFolder(folder: string): void {
    for (const [key, entry] of [...this.entries]) if (entry.folder === folder) this.forget(key);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** Drops the least recently used values until the cache fits (`keep` stays). */
  private evict(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      if (key === keep) continue;
      this.entries.delete(key);
      this.bytes -= entry.size;
    }
  }
}
