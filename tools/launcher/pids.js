// Process checks the launcher and its PostgreSQL helper share.
const fs = require('node:fs');
const path = require('node:path');

/** True while `pid` runs. An orphan reparented to an init that does not reap still answers kill(0), as a zombie. */
function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc here: kill(0) has to do
  }
}

/** The postmaster's pid from the first line of `<dataDir>/postmaster.pid`, or null when there is none. */
function postmasterPid(dataDir) {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

module.exports = { alive, postmasterPid };
