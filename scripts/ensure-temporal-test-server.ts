/**
 * Installs Temporal's time-skipping test server into .herald/temporal-test-server/<version>/ (once) and returns the
 * path of a launcher that `TestWorkflowEnvironment.createTimeSkipping()` runs as an `existing-path` executable.
 *
 * Why the Java server: the SDK's default downloads a native build of the test server from GitHub, which these
 * machines (developers' and CI's) cannot reach; the very same server is published to Maven Central as
 * io.temporal:temporal-test-server, which they can. Maven copies it and its dependencies (the version is pinned in
 * scripts/temporal-test-server/pom.xml), and a class-data-sharing archive is dumped next to them, because the SDK
 * gives the server 5 s to accept connections and a cold JVM on a busy 2-core machine takes 3 s or more without it.
 *
 *   node --import tsx scripts/ensure-temporal-test-server.ts   # installs if needed and prints the launcher's path
 *
 * `TEMPORAL_TEST_SERVER=/path/to/executable` uses that instead (e.g. a native test server, for machines with GitHub).
 * Needs `java` (17+) on PATH, and `mvn` for the first install; temporalTestServerUnavailable() says when they are not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const testServerPom = path.join(repositoryRoot, 'scripts', 'temporal-test-server', 'pom.xml');
const mainClass = 'io.temporal.testserver.TestServer';
/** JVM options of the launcher, chosen for start-up time: C1 only and the serial collector (a test server is small). */
const jvmOptions = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx1g'];

/** The test server version pinned in the pom. */
export function pinnedTestServerVersion(): string {
  const match = /<temporal-test-server\.version>([^<]+)<\/temporal-test-server\.version>/.exec(readFileSync(testServerPom, 'utf8'));
  if (!match) throw new Error(`${testServerPom} names no <temporal-test-server.version>`);
  return match[1]!.trim();
}

export function testServerHome(version = pinnedTestServerVersion()): string {
  return path.join(repositoryRoot, '.herald', 'temporal-test-server', version);
}

const launcherPath = (home: string) => path.join(home, 'temporal-test-server');
const readyStamp = (home: string) => path.join(home, 'ready');

function runs(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 60_000 });
  return result.status === 0;
}

/**
 * Why the test server cannot be had on this machine (no Java, or not installed yet and no Maven), or undefined when
 * it can. Synchronous, so a test file can decide at collection time whether to skip.
 */
export function temporalTestServerUnavailable(): string | undefined {
  if (process.env.TEMPORAL_TEST_SERVER) return existsSync(process.env.TEMPORAL_TEST_SERVER) ? undefined : `TEMPORAL_TEST_SERVER=${process.env.TEMPORAL_TEST_SERVER} does not exist`;
  if (!runs('java', ['-version'])) return 'Java is not installed (`java` is not on PATH): the time-skipping test server is a Java program';
  if (existsSync(readyStamp(testServerHome()))) return undefined;
  if (!runs('mvn', ['-v'])) return 'Maven is not installed (`mvn` is not on PATH): it fetches the time-skipping test server from Maven Central';
  return undefined;
}

interface Captured {
  code: number | null;
  output: string;
}

function capture(command: string, args: string[], options: { cwd?: string } = {}): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const tail = (text: string, lines = 30) => text.trim().split('\n').slice(-lines).join('\n');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock folder: concurrent test processes install once, the others wait; a dead holder's lock is taken over. */
async function withInstallLock<T>(lock: string, run: () => Promise<T>): Promise<T> {
  const owner = path.join(lock, 'pid');
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(owner, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(owner, 'utf8').catch(() => ''));
      const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()));
      if ((holder && !alive(holder)) || (!holder && age > 60_000)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`waited 20 minutes for another process installing the test server (${lock}); remove it if stale`);
      await sleep(500);
    }
  }
  try {
    return await run();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Dumps a class-data-sharing archive of the classes the server loads while starting: the JVM then maps them instead of
 * loading and verifying each (start-up to listening: about 0.5 s instead of 3 s here). Best effort: without it the
 * launcher still works, only slower.
 */
async function dumpClassArchive(home: string, classpath: string, log: (line: string) => void): Promise<void> {
  const classList = path.join(home, 'classes.lst');
  const archive = path.join(home, 'classes.jsa');
  const port = await freePort();
  const server = spawn('java', [...jvmOptions, `-XX:DumpLoadedClassList=${classList}`, '-cp', classpath, mainClass, String(port)], { stdio: 'ignore' });
  try {
    const deadline = Date.now() + 60_000;
    while (!(await accepts(port))) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`the test server did not listen on ${port} (exit code ${server.exitCode})`);
      await sleep(100);
    }
    await sleep(1000);
  } finally {
    // The server does not stop on SIGTERM (its shutdown hook waits); the class list is written as classes load.
    server.kill('SIGKILL');
  }
  const dump = await capture('java', [...jvmOptions, '-Xshare:dump', `-XX:SharedClassListFile=${classList}`, `-XX:SharedArchiveFile=${archive}`, '-cp', classpath]);
  if (dump.code !== 0 || !existsSync(archive)) {
    await rm(archive, { force: true });
    log(`temporal test server: no class-data-sharing archive (start-up is slower): ${tail(dump.output, 5)}`);
  }
}

const launcherScript = (classpath: string) => `#!/usr/bin/env bash
# Temporal's time-skipping test server, written by scripts/ensure-temporal-test-server.ts.
# Usage: temporal-test-server <port> [--enable-time-skipping] (the SDK passes the port).
# exec: the SDK stops the server by killing this process, which must be the JVM itself.
# Its output goes to $HERALD_TEST_SERVER_LOG (default: nowhere).
here="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
sharing=()
[ -f "$here/classes.jsa" ] && sharing=(-XX:SharedArchiveFile="$here/classes.jsa" -Xshare:auto)
exec java ${jvmOptions.join(' ')} "\${sharing[@]}" -cp '${classpath}' ${mainClass} "$@" >>"\${HERALD_TEST_SERVER_LOG:-/dev/null}" 2>&1
`;

/** Returns the path of an executable that runs the time-skipping test server on the port it is given; installs it once. */
export async function ensureTemporalTestServer(log: (line: string) => void = console.log): Promise<string> {
  if (process.env.TEMPORAL_TEST_SERVER) return process.env.TEMPORAL_TEST_SERVER;
  const version = pinnedTestServerVersion();
  const home = testServerHome(version);
  if (existsSync(readyStamp(home))) return launcherPath(home);
  const unavailable = temporalTestServerUnavailable();
  if (unavailable) throw new Error(unavailable);

  await mkdir(path.dirname(home), { recursive: true });
  return withInstallLock(`${home}.lock`, async () => {
    if (existsSync(readyStamp(home))) return launcherPath(home);
    const started = Date.now();
    log(`Installing the Temporal test server ${version} from Maven Central into ${home} (first run only)…`);
    await rm(home, { recursive: true, force: true });
    const lib = path.join(home, 'lib');
    await mkdir(lib, { recursive: true });
    const copy = await capture('mvn', ['-B', '-q', '-f', testServerPom, 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime']);
    const jars = (await readdir(lib)).filter((name) => name.endsWith('.jar')).sort();
    if (copy.code !== 0 || !jars.includes(`temporal-test-server-${version}.jar`)) {
      throw new Error(`Fetching io.temporal:temporal-test-server:${version} with Maven failed (mvn exit code ${copy.code}):\n${tail(copy.output)}`);
    }
    // An explicit class path, in a fixed order: the class-data-sharing archive is valid only for the one it was dumped with.
    const classpath = jars.map((name) => path.join(lib, name)).join(':');
    await dumpClassArchive(home, classpath, log);
    await writeFile(launcherPath(home), launcherScript(classpath));
    await chmod(launcherPath(home), 0o755);
    await writeFile(readyStamp(home), `${version}\n`);
    log(`Temporal test server ${version} ready in ${Date.now() - started} ms: ${launcherPath(home)}`);
    return launcherPath(home);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`temporal test server: ${await ensureTemporalTestServer()}`);
}
