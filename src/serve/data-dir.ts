/**
 * @module serve/data-dir
 * The only files the server opens on request: those under its data folder. A requested path is taken relative to
 * the folder (an absolute path is accepted only when it lies inside it), symbolic links are resolved with realpath,
 * and whatever ends up outside the folder (`..`, a link pointing out, an absolute path elsewhere) is refused.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export type DataPath =
  | { ok: true; path: string; rel: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

export class DataDir {
  private constructor(readonly root: string) {}

  /** The folder, resolved (it must exist and be a directory). */
  static async open(dir: string): Promise<DataDir> {
    const root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error(`${dir}: not a directory`);
    return new DataDir(root);
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep);
  }

  /** Resolves a requested path (relative to the folder) to an existing file or folder inside it. */
  async resolve(requested: string): Promise<DataPath> {
    if (requested === '' || requested.includes('\0')) return { ok: false, status: 400, reason: 'empty or invalid path' };
    const joined = isAbsolute(requested) ? resolve(requested) : resolve(this.root, requested);
    if (!this.inside(joined)) return { ok: false, status: 403, reason: `'${requested}' is outside the data folder` };
    let real: string;
    try {
      real = await realpath(joined);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { ok: false, status: 404, reason: `'${requested}': ${code === 'ENOENT' ? 'no such file or directory' : code ?? 'cannot open'}` };
    }
    if (!this.inside(real)) return { ok: false, status: 403, reason: `'${requested}' leads outside the data folder (symbolic link)` };
    return { ok: true, path: real, rel: relative(this.root, real) || '.' };
  }

  /**
   * Files and folders directly in a folder under the data folder (hidden ones left out), for the page's file
   * picker: name, relative path, whether a folder, size.
   */
  async list(requested: string): Promise<{ dir: string; entries: { name: string; path: string; dir: boolean; bytes: number }[] } | DataPath & { ok: false }> {
    const r = await this.resolve(requested === '' ? '.' : requested);
    if (!r.ok) return r;
    let names: string[];
    try {
      names = (await readdir(r.path)).filter((n) => !n.startsWith('.')).sort();
    } catch {
      return { ok: false, status: 400, reason: `'${requested}' is not a folder` };
    }
    const entries: { name: string; path: string; dir: boolean; bytes: number }[] = [];
    for (const name of names.slice(0, 2000)) {
      const p = join(r.path, name);
      const inner = await this.resolve(p);
      if (!inner.ok) continue; // links leading out are not offered
      try {
        const st = await stat(inner.path);
        entries.push({ name, path: relative(this.root, p), dir: st.isDirectory(), bytes: st.size });
      } catch {
        // vanished meanwhile
      }
    }
    return { dir: r.rel, entries };
  }
}
