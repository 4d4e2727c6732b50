/** Deterministic corruption of a trace, for the fuzz tests: the same seed gives the same bytes. */

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function mutate(input: Uint8Array, seed: number): Uint8Array {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  let bytes = Uint8Array.from(input);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(8)) {
      case 0: // flip bits
        for (let i = 0, n = 1 + int(8); i < n; i++) bytes[int(bytes.length)] ^= 1 << int(8);
        break;
      case 1: // overwrite with random bytes
        for (let i = 0, n = 1 + int(16), at = int(bytes.length); i < n && at + i < bytes.length; i++) bytes[at + i] = int(256);
        break;
      case 2: // cut
        bytes = bytes.slice(0, int(bytes.length + 1));
        break;
      case 3: { // insert random bytes
        const at = int(bytes.length + 1);
        const extra = Uint8Array.from({ length: 1 + int(40) }, () => int(256));
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
        break;
      }
      case 4: { // duplicate a slice
        const from = int(bytes.length);
        const to = Math.min(bytes.length, from + 1 + int(200));
        const at = int(bytes.length + 1);
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(from, to), ...bytes.subarray(at)]);
        break;
      }
      case 5: // long varint-looking runs
        for (let i = 0, n = 2 + int(12), at = int(bytes.length); i < n && at + i < bytes.length; i++) bytes[at + i] = 0xff;
        break;
      case 6: { // a batch header's size or kind field, aimed at a real header when one is found
        const at = 16 + 32 * int(Math.max(1, (bytes.length - 16) / 32));
        if (at + 16 <= bytes.length) bytes[at + (int(2) === 0 ? 0 : 12 + int(4))] = int(256);
        break;
      }
      default: { // delete a slice
        const from = int(bytes.length);
        const to = Math.min(bytes.length, from + 1 + int(100));
        bytes = Uint8Array.from([...bytes.subarray(0, from), ...bytes.subarray(to)]);
      }
    }
  }
  return bytes;
}
