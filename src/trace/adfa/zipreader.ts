/**
 * @module trace/adfa/zipreader
 * Opens a zip for yauzl with the central directory read in one go. yauzl's own file reader makes several small
 * reads per central-directory record, which for ADFA-LD's 6,016 entries costs more than reading the traces; here
 * the central directory and end record (metadata only: ~100 bytes per entry, never file data) are read once and
 * served from memory, and entry data is streamed from the file as usual.
 */
import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { ZipFile } from 'yauzl';

/** Above this, the central directory is not cached (yauzl reads it as usual). */
const MAX_CACHED = 64 << 20;

class CachedDirectoryReader extends yauzl.RandomAccessReader {
  closed = false;

  constructor(private readonly fd: number, private readonly cacheStart: number, private readonly cache: Buffer) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (start >= this.cacheStart && end <= this.cacheStart + this.cache.length) {
      const bytes = this.cache.subarray(start - this.cacheStart, end - this.cacheStart);
      return new Readable({
        read() {
          this.push(bytes);
          this.push(null);
        },
      });
    }
    return rangeStream(this.fd, start, end);
  }

  override close(callback: (err: Error | null) => void): void {
    if (this.closed) return callback(null);
    this.closed = true;
    try {
      closeSync(this.fd);
      callback(null);
    } catch (e) {
      callback(e as Error);
    }
  }
}

/** Bytes [start, end) of the file, read with positioned reads (the fd stays open: the zip owns it). */
function rangeStream(fd: number, start: number, end: number): Readable {
  let pos = start;
  return new Readable({
    read() {
      const len = Math.min(end - pos, 1 << 16);
      if (len <= 0) {
        this.push(null);
        return;
      }
      const buf = Buffer.allocUnsafe(len);
      read(fd, buf, 0, len, pos, (err, bytes) => {
        if (err) return this.destroy(err);
        if (bytes === 0) return this.destroy(new Error(`zip: unexpected end of file at byte ${pos}`));
        pos += bytes;
        this.push(bytes < len ? buf.subarray(0, bytes) : buf);
      });
    },
  });
}

/** Opens `path` for lazy entry reading (`eachEntry`, `openReadStreamPromise`); close it with `zip.close()`. */
export async function openZip(path: string): Promise<ZipFile> {
  const fd = openSync(path, 'r');
  let reader: CachedDirectoryReader | undefined;
  try {
    const size = fstatSync(fd).size;
    // the end-of-central-directory record: within the last 22 + 65,535 (comment) bytes
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLen);
    readSync(fd, tail, 0, tailLen, size - tailLen);
    let cacheStart = size - tailLen;
    let cache = tail;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) !== 0x06054b50) continue;
      const cdSize = tail.readUInt32LE(i + 12);
      const cdOffset = tail.readUInt32LE(i + 16);
      if (cdOffset !== 0xffffffff && cdOffset + cdSize <= size && size - cdOffset <= MAX_CACHED && cdOffset < cacheStart) {
        cache = Buffer.alloc(size - cdOffset);
        readSync(fd, cache, 0, cache.length, cdOffset);
        cacheStart = cdOffset;
      }
      break;
    }
    reader = new CachedDirectoryReader(fd, cacheStart, cache);
    return await yauzl.fromRandomAccessReaderPromise(reader, size, { lazyEntries: true, autoClose: false });
  } catch (e) {
    if (!reader?.closed) closeSync(fd);
    throw e;
  }
}
