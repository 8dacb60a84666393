/**
 * `npm run build` writes the workflow bundle once, so a compiled worker loads it instead of running the
 * bundler (webpack) at every start: faster starts, and the bundler's memory never enters the worker.
 */
import { writeFile } from 'node:fs/promises';
import { bundleHeraldWorkflows, prebuiltWorkflowBundlePath } from './worker.js';

const { code } = await bundleHeraldWorkflows();
await writeFile(prebuiltWorkflowBundlePath, code);
console.log(`workflow bundle written to ${prebuiltWorkflowBundlePath}`);
