import { loadConfigOrExit, onShutdownSignal } from '../main-helpers.js';
import { startApi } from './server.js';

const api = await startApi(loadConfigOrExit());
onShutdownSignal(api.close);
