/**
 * @module trace/ctf/metadata
 * Reads a CTF trace's `metadata` file, whichever of its three forms, into the shared type model:
 * - packetized TSDL: packets starting with magic 0x75D11D57 (its byte order is the trace's), a 37-byte header
 *   (magic u32, uuid[16], checksum u32, content_size u32 and packet_size u32 in bits, compression u8,
 *   encryption_scheme u8, checksum_scheme u8, major u8, minor u8) then text; the text of all packets is concatenated;
 * - plain-text TSDL (normally starting with the `/* CTF 1.8` signature);
 * - CTF 2: a JSON text sequence (fragments each preceded by the RS byte 0x1E).
 * Errors are `TraceError`s naming the metadata file and the byte offset within it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraceError } from '../errors.js';
import { parseCtf2 } from './ctf2-metadata.js';
import { parseTsdl } from './tsdl.js';
import type { ByteOrder, TraceClass } from './types.js';

export { parseCtf2 } from './ctf2-metadata.js';
export { parseTsdl } from './tsdl.js';

export const METADATA_PACKET_MAGIC = 0x75d11d57;
export const METADATA_PACKET_HEADER_SIZE = 37;

/** One packet's text: `length` bytes at `fileOffset` in the file, `textOffset` in the concatenated text. */
export interface MetadataSegment {
  fileOffset: number;
  textOffset: number;
  length: number;
}

export interface UnpackedMetadata {
  /** The metadata text: TSDL or a CTF 2 JSON text sequence. */
  text: string;
  /** Byte order of the packet magic (packetized metadata only). */
  byteOrder?: ByteOrder;
  /** Where each packet's text came from (packetized metadata only). */
  segments?: MetadataSegment[];
  /** The metadata stream UUID of the packet headers (packetized metadata only). */
  uuid?: Uint8Array;
}

function isPacketized(buf: Uint8Array): ByteOrder | undefined {
  if (buf.length < 4) return undefined;
  const le = buf[0]! | (buf[1]! << 8) | (buf[2]! << 16) | (buf[3]! << 24);
  if (le >>> 0 === METADATA_PACKET_MAGIC) return 'le';
  const be = (buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!;
  if (be >>> 0 === METADATA_PACKET_MAGIC) return 'be';
  return undefined;
}

const utf8 = new TextDecoder('utf-8');

/** Concatenates the text of metadata packets; plain-text metadata comes back as is. */
export function unpackMetadata(buf: Uint8Array, file: string): UnpackedMetadata {
  const order = isPacketized(buf);
  if (!order) {
    if (buf.length === 0) throw new TraceError(file, 0, 'empty metadata file');
    const text = utf8.decode(buf);
    if (buf[0] === 0x1e) return { text };
    const sig = /^\/\*\s*CTF\s+(\d+)\.(\d+)/.exec(text);
    if (sig) {
      if (sig[1] !== '1') throw new TraceError(file, 0, `unsupported TSDL metadata version CTF ${sig[1]}.${sig[2]}`);
      return { text };
    }
    // No signature: accept text that looks like TSDL (babeltrace only warns), reject anything else.
    if (/^\s*(\/[*/]|[A-Za-z_])/.test(text.slice(0, 64)) && !text.slice(0, 4096).includes('\0')) return { text };
    throw new TraceError(
      file,
      0,
      'not CTF metadata: expected the packet magic 0x75d11d57, a "/* CTF 1.8" text signature or a CTF 2 JSON text sequence (0x1e)',
    );
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = order === 'le';
  const segments: MetadataSegment[] = [];
  let total = 0;
  let uuid: Uint8Array | undefined;
  for (let off = 0; off < buf.length; ) {
    const remain = buf.length - off;
    if (remain < METADATA_PACKET_HEADER_SIZE) {
      throw new TraceError(file, off, `truncated metadata packet header: ${remain} bytes left, a header needs ${METADATA_PACKET_HEADER_SIZE}`);
    }
    const magic = dv.getUint32(off, le);
    if (magic !== METADATA_PACKET_MAGIC) {
      throw new TraceError(file, off, `bad metadata packet magic 0x${magic.toString(16).padStart(8, '0')} (expected 0x75d11d57, ${order === 'le' ? 'little' : 'big'}-endian)`);
    }
    if (!uuid) uuid = buf.slice(off + 4, off + 20);
    const contentBits = dv.getUint32(off + 24, le);
    const packetBits = dv.getUint32(off + 28, le);
    const compression = buf[off + 32]!;
    const encryption = buf[off + 33]!;
    const major = buf[off + 35]!;
    const minor = buf[off + 36]!;
    if (compression !== 0) throw new TraceError(file, off + 32, `unsupported metadata packet compression scheme ${compression}`);
    if (encryption !== 0) throw new TraceError(file, off + 33, `unsupported metadata packet encryption scheme ${encryption}`);
    if (major !== 1 && major !== 2) throw new TraceError(file, off + 35, `unsupported metadata packet version ${major}.${minor}`);
    if (contentBits % 8 !== 0 || contentBits < METADATA_PACKET_HEADER_SIZE * 8) {
      throw new TraceError(file, off + 24, `bad metadata packet content_size ${contentBits} bits`);
    }
    if (packetBits % 8 !== 0 || packetBits < contentBits) {
      throw new TraceError(file, off + 28, `bad metadata packet packet_size ${packetBits} bits (content_size ${contentBits} bits)`);
    }
    const contentBytes = contentBits / 8;
    if (contentBytes > remain) {
      throw new TraceError(file, off, `truncated metadata packet: content_size is ${contentBytes} bytes, only ${remain} left in the file`);
    }
    const length = contentBytes - METADATA_PACKET_HEADER_SIZE;
    segments.push({ fileOffset: off + METADATA_PACKET_HEADER_SIZE, textOffset: total, length });
    total += length;
    off += packetBits / 8;
  }
  const bytes = new Uint8Array(total);
  for (const s of segments) bytes.set(buf.subarray(s.fileOffset, s.fileOffset + s.length), s.textOffset);
  const out: UnpackedMetadata = { text: utf8.decode(bytes), byteOrder: order, segments };
  if (uuid) out.uuid = uuid;
  return out;
}

/** File offset of byte `textOffset` of the concatenated packet text. */
export function fileOffsetOf(segments: readonly MetadataSegment[], textOffset: number): number {
  for (const s of segments) {
    if (textOffset < s.textOffset + s.length) return s.fileOffset + Math.max(0, textOffset - s.textOffset);
  }
  const last = segments[segments.length - 1];
  return last ? last.fileOffset + last.length : textOffset;
}

/** Parses the bytes of a metadata file (`file` names it in errors). */
export function parseMetadata(buf: Uint8Array, file: string): TraceClass {
  const { text, byteOrder, segments } = unpackMetadata(buf, file);
  try {
    if (/^\s*\x1e/.test(text.slice(0, 64))) return parseCtf2(text, file);
    return parseTsdl(text, file, byteOrder);
  } catch (e) {
    if (e instanceof TraceError && segments && e.file === file && e.offset >= 0) {
      throw new TraceError(file, fileOffsetOf(segments, e.offset), `${e.reason} (line:col in the unpacked metadata text)`);
    }
    throw e;
  }
}

/** Reads and parses `<traceDir>/metadata`. */
export async function readMetadata(traceDir: string): Promise<TraceClass> {
  const file = join(traceDir, 'metadata');
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TraceError(file, 0, `cannot read the metadata file: ${err.code ?? err.message}`);
  }
  return parseMetadata(buf, file);
}
