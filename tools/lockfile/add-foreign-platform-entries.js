#!/usr/bin/env node
// The npm registry reachable from our build machines serves only the Linux builds of packages with native
// binaries; `npm install` then leaves the other platforms' optional packages out of package-lock.json, and
// `npm ci` refuses such a lock ("Missing: @swc/core-darwin-arm64@ from lock file"). This adds those entries
// with the os/cpu/libc read from their names, so `npm ci` sees a complete lock and skips them on Linux as usual.
// Usage: node tools/lockfile/add-foreign-platform-entries.js  (after any npm install that changes the lock)
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.resolve(__dirname, '../../package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const pkgs = lock.packages;

const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openharmony', 'sunos', 'netbsd', 'openbsd', 'aix'];
const CPU = { arm64: 'arm64', aarch64: 'arm64', x64: 'x64', ia32: 'ia32', arm: 'arm', ppc64: 'ppc64', ppc64le: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', wasm32: 'wasm32', universal: null };

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpuKey = parts.find((p) => p in CPU);
  const entry = {};
  if (os) entry.os = [os];
  if (cpuKey && CPU[cpuKey]) entry.cpu = [CPU[cpuKey]];
  if (cpuKey === 'universal' && os === 'darwin') entry.cpu = ['x64', 'arm64'];
  if (parts.includes('musl') || parts.includes('musleabihf')) entry.libc = ['musl'];
  else if (parts.includes('gnu') || parts.includes('gnueabihf')) entry.libc = ['glibc'];
  return entry;
}

let added = 0;
for (const [key, meta] of Object.entries(pkgs)) {
  const optional = meta.optionalDependencies ?? {};
  for (const [dep, range] of Object.entries(optional)) {
    // Resolution as npm does it: next to the parent first, then at the top.
    const nested = `${key}/node_modules/${dep}`;
    const top = `node_modules/${dep}`;
    if (pkgs[nested] || pkgs[top]) continue;
    const platform = platformOf(dep);
    if (!platform.os && !platform.cpu) continue; // not a platform build: leave it to npm
    const version = range.replace(/^[\^~=]/, '');
    pkgs[top] = { version, ...platform, optional: true, ...(meta.dev ? { dev: true } : {}) };
    added++;
  }
}

lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} foreign-platform entries to package-lock.json`);
