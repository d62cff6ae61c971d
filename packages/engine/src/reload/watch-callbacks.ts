import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../engine.js';
import type { WebdatServer } from '../server.js';
import { FolderWatch } from './folder-watch.js';

// --watch (SPEC §6). The folders are watched, not the file: an editor that saves by writing a temporary
// file and renaming it over the original replaces the inode a file watch would be attached to.
// Changes to any module in the folder or its subfolders count, since the callbacks may import any
// module below their folder (SPEC §4); dependency folders and hidden ones are not modules of theirs.

const SETTLE_MS = 75;
const MODULE = /\.(m?js|m?ts)$/;
const IGNORED = (name: string) => name === 'node_modules' || name.startsWith('.');

function watchServer(server: WebdatServer, engine: Engine): FolderWatch {
  const entry = server.config.callbacks!;
  const log = engine.logger.child({ server: server.name });
  let timer: NodeJS.Timeout | null = null;
  const reload = () => {
    timer = null;
    void server.operations.run(async () => {
      if (!fs.existsSync(entry)) return; // mid-rename: the next event brings the new file
      try {
        await server.load();
        log.info({ file: entry }, 'callbacks reloaded');
      } catch (err) {
        log.error({ file: entry, err: (err as Error).message }, 'callbacks changed but failed to load; the previous code keeps serving');
      }
    });
  };
  const watcher = new FolderWatch(path.dirname(entry), IGNORED, (file) => {
    // Modules count, and names without an extension: a folder, new or renamed, may hold modules.
    if (MODULE.test(file) === false && path.extname(file) !== '') return;
    if (timer) clearTimeout(timer);
    // Editors write in several steps (truncate, write, rename); one reload once they are done.
    timer = setTimeout(reload, SETTLE_MS);
  }, (err) => log.error({ err: err.message }, 'cannot watch the callbacks folder any more'));
  return watcher;
}

/** Watches every server's callbacks; returns a function that stops watching. */
export function watchCallbacks(engine: Engine): () => void {
  const watchers = engine.list().map((s) => watchServer(s, engine));
  return () => { for (const w of watchers) w.close(); };
}
