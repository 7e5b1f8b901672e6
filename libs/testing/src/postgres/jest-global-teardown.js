const fs = require('node:fs');

module.exports = async function globalTeardown() {
  const state = globalThis.__TESSERA_PG__;
  if (!state) return;
  await state.cluster.stop();
  fs.rmSync(state.dataDir, { recursive: true, force: true });
};
