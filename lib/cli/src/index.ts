/**
 * @module @memmesh/cli
 * The `memmesh` command line as a function, for its bin and its tests.
 */
export { CLI_ENV_NAMES, DEFAULT_MEMMESH_URL, EXIT } from './config.ts';
export { type CliIo, runCli, USAGE } from './main.ts';
