// Preloaded into every platform process by `bench:checkout --cpu-prof=<dir>` (NODE_OPTIONS=--require ...), because
// Node refuses --cpu-prof in NODE_OPTIONS. Profiles from start to exit and writes <dir>/<pid>.cpuprofile; the
// in-process inspector session answers synchronously, so the 'exit' handler can still save it.
const fs = require('node:fs');
const inspector = require('node:inspector');
const path = require('node:path');

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
