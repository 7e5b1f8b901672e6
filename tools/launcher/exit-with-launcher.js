// Preloaded (`node -r`) into every process tools/launcher/start.js starts. Those run detached, in sessions of their
// own, so that a terminal's Ctrl-C reaches only the launcher, which then stops them in order. The flip side: a
// launcher that dies without stopping them (SIGKILL, a crash) would leave them running. The launcher gives each an
// IPC channel; when it closes, the process sends itself SIGTERM and shuts down as gracefully as it would have on
// the launcher's own SIGTERM.
// A process already shutting down (the launcher's SIGTERM came first, then the launcher died) is left to finish:
// a second SIGTERM would end it at once, before its relay flush and pool close (service-kit's shutdown deadline).
if (process.channel) {
  process.once('disconnect', () => {
    if (globalThis[Symbol.for('tessera.shutdown.deadline')] === undefined) process.kill(process.pid, 'SIGTERM');
  });
  // The channel alone must not keep a process alive that would otherwise end (a migration run).
  process.channel.unref();
}
