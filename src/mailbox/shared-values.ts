/**
 * Equal values shared as one frozen object: values many index entries hold alike (an address, a
 * list of recipients, a set of flags). Past `limit` distinct keys the table starts over: sharing
 * saves memory, nothing depends on it.
 */
export class SharedValues<T> {
  private readonly values = new Map<string, Readonly<T>>();

  constructor(private readonly limit: number) {}

  share(key: string, make: () => T): Readonly<T> {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    if (this.values.size >= this.limit) this.values.clear();
    const value = Object.freeze(make());
    this.values.set(key, value);
    return value;
  }
}
