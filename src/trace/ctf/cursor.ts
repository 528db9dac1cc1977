/**
 * @module trace/ctf/cursor
 * The field reader's state: a packet's bytes, a bit position, the content end, the decoded root scopes (for field
 * references) and the role registers (event id, clock value, packet sizes) that decoded fields write into.
 *
 * Written by hand because no CTF library exists on npm; bit-level reading follows CTF 1.8 §4.1 (integers of any size
 * and alignment, in either byte order) and CTF 2 (LEB128 variable-length integers).
 */
import { TraceError } from '../errors.js';
import type { Scope } from './types.js';

const TWO32 = 4294967296;
/** Above this a 64-bit integer no longer fits a double exactly and is returned as bigint. */
const SAFE_HI = 0x200000; // 2^21: hi * 2^32 + lo < 2^53

export class Cursor {
  buf: Buffer = Buffer.alloc(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  /** Current position, in bits from the start of `buf`. */
  pos = 0;
  /** Bits that may be read (the packet's content size). */
  end = 0;
  /** Byte offset of `buf[0]` within `file`, for error messages. */
  fileOffset = 0;
  file = '';

  /** Root scopes decoded so far for the current event (for absolute field references). */
  readonly scopes: Partial<Record<Scope, Record<string, unknown>>> = {};

  // Role registers: written by fields that carry a role, read by the packet/event iterators.
  eventId = -1;
  /** The default clock's value in cycles (a double while it stays below 2^53). */
  clock = 0;
  clockSet = false;
  contentSize = -1;
  packetSize = -1;
  streamClassId = -1;
  streamInstanceId = -1;
  discarded = -1;
  packetEndClock = -1;
  magic = -1;
  uuid: Uint8Array | undefined;

  setBuffer(buf: Buffer, fileOffset: number, file: string): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = 0;
    this.end = buf.length * 8;
    this.fileOffset = fileOffset;
    this.file = file;
  }

  /** A TraceError at the current position (or at `bitPos`). */
  error(reason: string, bitPos = this.pos): TraceError {
    return new TraceError(this.file, this.fileOffset + Math.floor(bitPos / 8), reason);
  }

  align(bits: number): void {
    if (bits > 1) {
      const r = this.pos % bits;
      if (r !== 0) this.pos += bits - r;
    }
  }

  /** Throws the error for a field of `bits` bits at `pos` that does not fit the packet content. */
  overrun(pos: number, bits: number): never {
    this.pos = pos;
    throw this.error(`integer field (${bits} bits) extends past the end of the packet content (at bit ${this.end})`);
  }

  need(bits: number, what: string): void {
    if (this.pos + bits > this.end) {
      throw this.error(`${what} (${bits} bits) extends past the end of the packet content (at bit ${this.end})`);
    }
  }

  /** Updates the default clock from a timestamp field of `size` bits (CTF 1.8 §8: wrap-around of partial clocks). */
  updateClock(v: number | bigint, size: number): void {
    if (size >= 53 || !this.clockSet) {
      this.clock = typeof v === 'bigint' ? Number(v) : v;
      if (typeof v === 'bigint' && v >= 2n ** 53n) throw this.error('clock value beyond 2^53 cycles is not supported');
      this.clockSet = true;
      return;
    }
    const span = 2 ** size;
    const low = this.clock % span;
    let next = this.clock - low + (v as number);
    if ((v as number) < low) next += span;
    this.clock = next;
  }

  readUint(size: number, le: boolean): number | bigint {
    const pos = this.pos;
    if ((pos & 7) === 0) {
      const o = pos >>> 3;
      switch (size) {
        case 8: this.pos = pos + 8; return this.buf[o]!;
        case 16: this.pos = pos + 16; return this.view.getUint16(o, le);
        case 32: this.pos = pos + 32; return this.view.getUint32(o, le);
        case 64: {
          this.pos = pos + 64;
          const lo = this.view.getUint32(le ? o : o + 4, le);
          const hi = this.view.getUint32(le ? o + 4 : o, le);
          return hi < SAFE_HI ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
        }
      }
    }
    return this.readBits(size, le);
  }

  readInt(size: number, le: boolean): number | bigint {
    const pos = this.pos;
    if ((pos & 7) === 0) {
      const o = pos >>> 3;
      switch (size) {
        case 8: this.pos = pos + 8; return this.view.getInt8(o);
        case 16: this.pos = pos + 16; return this.view.getInt16(o, le);
        case 32: this.pos = pos + 32; return this.view.getInt32(o, le);
        case 64: {
          this.pos = pos + 64;
          const lo = this.view.getUint32(le ? o : o + 4, le);
          const hi = this.view.getInt32(le ? o + 4 : o, le);
          return hi < SAFE_HI && hi >= -SAFE_HI ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
        }
      }
    }
    const u = this.readBits(size, le);
    if (typeof u === 'bigint') {
      return u >= 1n << BigInt(size - 1) ? u - (1n << BigInt(size)) : u;
    }
    const half = 2 ** (size - 1);
    return u >= half ? u - 2 * half : u;
  }

  /** Any size 1..64 at any bit position. Little-endian fills from the least significant bit of each byte. */
  private readBits(size: number, le: boolean): number | bigint {
    const pos = this.pos;
    const first = pos >>> 3;
    const shift = pos & 7;
    const nbytes = (shift + size + 7) >>> 3;
    this.pos = pos + size;
    if (shift + size <= 32 && first + 4 <= this.buf.length) {
      // Fits one 32-bit load (e.g. LTTng's 5-bit id and 27-bit timestamp).
      if (le) {
        const w = this.view.getUint32(first, true) >>> shift;
        return size === 32 ? w : w & ((1 << size) - 1) >>> 0;
      }
      const w = this.view.getUint32(first, false);
      const v = w >>> (32 - shift - size);
      return size === 32 ? v : (v & ((1 << size) - 1)) >>> 0;
    }
    if (nbytes <= 6) {
      // Up to 48 bits of bytes: exact in a double.
      let acc = 0;
      if (le) {
        for (let i = nbytes - 1; i >= 0; i--) acc = acc * 256 + this.buf[first + i]!;
        acc = Math.floor(acc / 2 ** shift);
      } else {
        for (let i = 0; i < nbytes; i++) acc = acc * 256 + this.buf[first + i]!;
        acc = Math.floor(acc / 2 ** (nbytes * 8 - shift - size));
      }
      return acc % 2 ** size;
    }
    let acc = 0n;
    if (le) {
      for (let i = nbytes - 1; i >= 0; i--) acc = (acc << 8n) | BigInt(this.buf[first + i]!);
      acc >>= BigInt(shift);
    } else {
      for (let i = 0; i < nbytes; i++) acc = (acc << 8n) | BigInt(this.buf[first + i]!);
      acc >>= BigInt(nbytes * 8 - shift - size);
    }
    acc &= (1n << BigInt(size)) - 1n;
    return acc < 2n ** 53n ? Number(acc) : acc;
  }

  /** LEB128 (CTF 2 variable-length integer). */
  readVarUint(signed: boolean): number | bigint {
    this.align(8);
    let o = this.pos >>> 3;
    const limit = this.end >>> 3;
    let acc = 0n;
    let shift = 0n;
    let byte = 0;
    do {
      if (o >= limit) throw this.error('variable-length integer extends past the end of the packet content');
      byte = this.buf[o++]!;
      acc |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    } while (byte & 0x80);
    this.pos = o * 8;
    if (signed && byte & 0x40) acc -= 1n << shift;
    return acc <= 2n ** 53n - 1n && acc >= -(2n ** 53n - 1n) ? Number(acc) : acc;
  }
}
