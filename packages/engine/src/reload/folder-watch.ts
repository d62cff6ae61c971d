import fs from 'node:fs';
import path from 'node:path';

/**
 * Watches a folder and the folders below it, one non-recursive watch each, and reports every entry
 * that changes (its path relative to the root). Node 20's `recursive` watch on Linux watches files one
 * by one, so a file replaced by a rename (how many editors save) is never reported again; a watch on
 * the folder sees each rename into it. Folders that appear later are watched from then on; `skip`
 * keeps a folder and what is below it out (dependency folders, hidden ones).
 */
export class FolderWatch {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly skip: (name: string) => boolean,
    private readonly changed: (relative: string) => void,
    private readonly failed: (err: Error) => void,
  ) {
    this.add(root);
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private add(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, (_event, name) => this.saw(dir, name));
    } catch (err) {
      if (dir === this.root) throw err;
      return; // gone again before it could be watched
    }
    watcher.on('error', (err) => {
      watcher.close();
      this.watchers.delete(dir);
      // A subfolder that was removed ends its own watch; only losing the root is worth a word.
      if (dir === this.root) this.failed(err);
    });
    this.watchers.set(dir, watcher);
    let entries: fs.Dirent[] = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { /* removed meanwhile */ }
    for (const e of entries) if (e.isDirectory() && !this.skip(e.name)) this.add(path.join(dir, e.name));
  }

  private saw(dir: string, name: string | Buffer | null): void {
    if (name === null) { this.changed(path.relative(this.root, dir)); return; }
    const base = name.toString();
    if (this.skip(base)) return;
    const entry = path.join(dir, base);
    let isDir = false;
    try { isDir = fs.statSync(entry).isDirectory(); } catch { /* removed or renamed away */ }
    if (isDir) this.add(entry);
    else if (this.watchers.has(entry)) { this.watchers.get(entry)!.close(); this.watchers.delete(entry); }
    this.changed(path.relative(this.root, entry));
  }
}
