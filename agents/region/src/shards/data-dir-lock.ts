/**
 * @module data-dir-lock
 * One agent per snapshot directory. Two agents of a region sharing `MEMMESH_DATA_DIR` would
 * each write snapshots of the same shards over the other's, and a restart would then load a
 * mix. The lock is a file `<dataDir>/<region>/.lock` created exclusively, holding the owner's
 * pid and agent id; a lock whose process is gone (kill -9, a crash) is taken over.
 *
 * The pid check only sees processes of this machine (or container): in Kubernetes each agent
 * pod has its own volume, which is what keeps agents apart there.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MeshError } from '@memmesh/core';

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** A lock file left by a crash is taken over at most this many times in one acquire. */
const TAKEOVERS_MAX = 3;

export async function lockDataDir(dataDir: string, region: string, agentId: string): Promise<DataDirLock> {
  const dir = join(dataDir, region);
  const path = join(dir, '.lock');
  await mkdir(dir, { recursive: true });
  const owner = `${process.pid} ${agentId}\n`;
  for (let attempt = 0; attempt <= TAKEOVERS_MAX; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(owner);
      await file.close();
      return {
        path,
        async release() {
          // Only our own lock: a takeover after we were presumed dead must not be undone.
          if ((await readFile(path, 'utf8').catch(() => '')) === owner)
            await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [pidText, holder] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new MeshError(
        ErrorCode.Config,
        `${dir} is in use by agent ${holder ?? '?'} (pid ${pid}): give each agent its own MEMMESH_DATA_DIR`,
      );
    }
    // The owner is gone (or it is this very process, restarting in place): take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new MeshError(ErrorCode.Config, `could not lock ${dir}: another agent keeps taking it`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, which still means alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
