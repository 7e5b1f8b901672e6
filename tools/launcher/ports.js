// The ports `npm start` will listen on, checked before anything starts: a port that is taken, or given to two
// processes, would otherwise show only when its process binds it, after PostgreSQL's start and every migration.
const net = require('node:net');

/** Whether `port` can be listened on now on every interface, as the services and the gateway listen. */
function bindable(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

/**
 * `wanted`: [{ port, variable, what }]. Resolves with one line per problem (empty when every port is free), each
 * naming the variable that moves the port.
 */
async function portProblems(wanted) {
  const problems = [];
  const byPort = new Map();
  for (const w of wanted) {
    const first = byPort.get(w.port);
    if (first) problems.push(`${w.variable} and ${first.variable} are both ${w.port} (${w.what}, ${first.what})`);
    else byPort.set(w.port, w);
  }
  for (const w of byPort.values()) {
    if (!(await bindable(w.port))) problems.push(`port ${w.port} (${w.what}) is in use: set ${w.variable} to a free port`);
  }
  return problems;
}

module.exports = { portProblems };
